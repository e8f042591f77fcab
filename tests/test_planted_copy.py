"""The planted COPY/MOVE bug (tests/planted_copy.py) is the old bug.

The fuzzer's later use of ``OldCopyMachine`` needs the plant to really answer as the
code before the fix did: ``OK [COPYUID ...]`` for the part that still exists.
"""

from __future__ import annotations

import re

import pytest
from planted_copy import OldCopySession

from imapsession.session import Limits
from transcript import Client


def _planted(root) -> Client:
    client = Client(root)
    client.session = OldCopySession(client.store, "tester", limits=Limits())
    client.session.greeting()
    return client


@pytest.mark.parametrize("verb", ["COPY", "MOVE"])
def test_planted_session_copies_half_and_says_ok(tmp_path, verb):
    b = _planted(tmp_path / "Maildir")
    for i in range(3):
        b.append(f"Subject: {i}\r\n\r\nhi\r\n")
    b.ok("c CREATE Dest")
    b.ok("s SELECT INBOX")
    a = Client(tmp_path / "Maildir")
    a.ok("s SELECT INBOX")
    a.ok("x STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("y EXPUNGE")
    answer = "\n".join(b.cmd(f"t {verb} 1:2 Dest"))
    assert re.search(r"\[COPYUID \d+ 1 1\]", answer), answer
    assert answer.split("\n")[-1].startswith("t OK "), answer
    assert a.cmd("m STATUS Dest (MESSAGES)")[0] == "* STATUS Dest (MESSAGES 1)"
