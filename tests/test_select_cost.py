"""A second SELECT on a warm index reads the index, never a message file (issue: the core)."""

from __future__ import annotations

import os
import sys

from imapsession.session import Session
from imapsession.storage.maildir import open_maildir

MESSAGES = 500


def _fill(root: str) -> None:
    os.makedirs(os.path.join(root, "tmp"))
    os.makedirs(os.path.join(root, "new"))
    cur = os.path.join(root, "cur")
    os.makedirs(cur)
    for i in range(MESSAGES):
        name = f"17000{i:05d}.M{i}P1.test,S=60:2,{'S' if i % 3 else ''}"
        with open(os.path.join(cur, name), "wb") as f:
            f.write(b"From: a@example.org\nSubject: message %d\n\nbody %d\n" % (i, i))


def _select(root: str) -> bytes:
    store = open_maildir(root)
    try:
        session = Session(store, "tester")
        out = session.receive(b"a SELECT INBOX\r\nb FETCH 1:* (FLAGS UID)\r\nc LOGOUT\r\n")
        session.leave_selected()
        return out
    finally:
        store.close()


def test_second_select_opens_no_message_file(tmp_path):
    root = str(tmp_path / "Maildir")
    _fill(root)
    first = _select(root)  # builds the index
    assert b"* %d EXISTS" % MESSAGES in first
    opened: list[str] = []
    mail_dirs = (os.path.join(root, "cur"), os.path.join(root, "new"))

    def audit(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str) and args[0].startswith(mail_dirs):
            opened.append(args[0])

    sys.addaudithook(audit)  # hooks cannot be removed; the filter keeps it harmless
    second = _select(root)
    assert b"* %d EXISTS" % MESSAGES in second
    assert b"c OK" in second
    assert opened == []
    # and the audit hook does see message files being read, so the check can fail
    _select_and_read(root)
    assert opened


def _select_and_read(root: str) -> None:
    store = open_maildir(root)
    try:
        session = Session(store, "tester")
        session.receive(b"a EXAMINE INBOX\r\nb FETCH 1 BODY.PEEK[]\r\n")
        session.leave_selected()
    finally:
        store.close()
