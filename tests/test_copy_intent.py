"""Maildir COPY/MOVE behind the intent record (maildir/intent.py), without a kill.

The kill -9 test shows a killed COPY/MOVE undone; these show the other ways: a
COPY that fails part way (an error, not a kill) puts every file back at once, and a
record found after a commit that survived (a power cut after the commit, before the
renames reached the disk) is finished, not undone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import imapsession.storage.maildir.copy as maildir_copy
from imapsession.storage.maildir import open_maildir
from imapsession.storage.maildir.intent import INTENT_NAME

MSG = b"From: a@example.org\nSubject: hello\n\nbody line\n"


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _names(root: Path, sub: str) -> list[str]:
    return sorted(os.listdir(root / sub))


@pytest.fixture
def world(tmp_path: Path):
    root = tmp_path / "Maildir"
    store = open_maildir(str(root))
    store.create_mailbox("dst")
    for _ in range(3):
        store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    yield root, store
    store.close()


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_a_failure_between_two_renames_puts_every_file_back(world, monkeypatch, move):
    root, store = world
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    before = _names(root, "cur")
    real_rename, calls = os.rename, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the intent's own rename, one copy into cur/, then this
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(maildir_copy.os, "rename", failing)
    with pytest.raises(OSError):
        (box.move_to if move else box.copy_to)([1, 2, 3], "dst")
    monkeypatch.undo()
    assert _names(root / ".dst", "cur") == [] and _names(root / ".dst", "tmp") == []
    assert _names(root, "cur") == before
    assert not (root / INTENT_NAME).exists()
    assert store.status("dst").messages == 0 and store.status("INBOX").messages == 3


def test_a_record_left_after_the_commit_is_finished_not_undone(world, monkeypatch):
    root, store = world
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    monkeypatch.setattr(maildir_copy, "clear_intent", lambda _root: None)
    result = box.move_to([1, 2], "dst")
    monkeypatch.undo()
    assert (root / INTENT_NAME).exists()
    # as after a power cut: the commit is durable, one rename and one unlink are not
    record = json.loads((root / INTENT_NAME).read_text())
    source, _tmp, final, _uid = record["entries"][0]
    tmp = f"{int(time.time())}.M1P{_dead_pid()}Q1.{os.uname().nodename}"  # as if after a reboot
    record["entries"][0][1] = tmp  # the sweep of tmp/ would take it: recovery comes first
    (root / INTENT_NAME).write_text(json.dumps(record))
    os.rename(root / ".dst" / final, root / ".dst" / "tmp" / tmp)
    os.link(root / ".dst" / "tmp" / tmp, root / source)
    store.close()
    again = open_maildir(str(root))
    try:
        dst = again.open_mailbox("dst", readonly=True)
        assert not (root / INTENT_NAME).exists()
        assert _names(root / ".dst", "tmp") == []
        assert len(_names(root / ".dst", "cur")) == 2
        assert sorted(r.uid for r in dst.sync().changed) == list(result.target_uids)
        assert again.status("INBOX").messages == 1
    finally:
        again.close()


def test_a_record_killed_while_being_written_is_removed_on_open(world):
    root, store = world
    store.close()
    partial = root / f"{INTENT_NAME}.tmp"
    partial.write_text('{"dest": ')
    again = open_maildir(str(root))
    try:
        again.status("INBOX")
        assert not partial.exists()
    finally:
        again.close()
