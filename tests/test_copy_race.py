"""A Maildir source file unlinked by another program in the middle of a COPY/MOVE, after
the copy's check: the copy is still all or nothing (RFC 3501 6.4.7). The links already
made are removed and the transaction's rows rolled back; ``MessageGone`` is raised."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imapsession.storage import base
from imapsession.storage.maildir import copy as maildir_copy
from imapsession.storage.maildir import open_maildir

MSG = b"Subject: race\r\n\r\nbody\r\n"


@pytest.mark.parametrize("move", [False, True])
def test_source_unlinked_between_check_and_link(tmp_path: Path, monkeypatch, move) -> None:
    store = open_maildir(str(tmp_path / "Maildir"))
    for _ in range(3):
        store.append("INBOX", MSG, frozenset(), None)
    store.create_mailbox("Dest")
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    real_link, calls = maildir_copy._link, []

    def link_then_lose_the_next(src: str, tmp_dir: str, modes):
        name = real_link(src, tmp_dir, modes)
        if not calls:  # after the first link, another program expunges the others' files
            cur = tmp_path / "Maildir" / "cur"
            for other in sorted(os.listdir(cur))[1:]:
                os.unlink(cur / other)
        calls.append(name)
        return name

    monkeypatch.setattr(maildir_copy, "_link", link_then_lose_the_next)
    with pytest.raises(base.MessageGone, match="no longer exist"):
        (box.move_to if move else box.copy_to)([1, 2, 3], "Dest")
    assert calls and os.listdir(tmp_path / "Maildir" / ".Dest" / "cur") == []
    assert os.listdir(tmp_path / "Maildir" / ".Dest" / "tmp") == []  # the links made, gone
    assert store.status("Dest").messages == 0
    assert len(os.listdir(tmp_path / "Maildir" / "cur")) == 1
    box.close()
    store.close()
