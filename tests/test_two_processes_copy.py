"""COPY and MOVE of a message another real server process expunged: all or nothing.

Session A expunges message 2; session B, not yet synced, sends ``COPY 1:2 Dest``
(or UID COPY, MOVE, UID MOVE). RFC 2180 4.4 allows copying all or none; Dovecot
2.3 (and so we) answers ``NO [EXPUNGEISSUED]`` and copies none. A third process
checks with STATUS that the target gained nothing and MOVE's source lost nothing.
Before the fix B answered ``OK [COPYUID ... 1 1]``, one message copied.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mbox_helpers import spawn_ours_mbox

from imapproc import (
    DOVECOT_IMAP,
    NOBODY,
    ImapProcess,
    make_home,
    spawn_dovecot,
    spawn_ours,
    status_of,
)

MESSAGE = b"From: a@example.org\r\nSubject: %d\r\n\r\nbody %d\r\n"
GONE = b"NO [EXPUNGEISSUED] Some of the requested messages no longer exist.\r\n"
VERBS = ["COPY", "UID COPY", "MOVE", "UID MOVE"]


class Home:
    """One user's mail, on either backend; ``spawn`` starts another server process on it."""

    def __init__(self, backend: str, tmp_path: Path):
        self.backend = backend
        if backend == "mbox":
            self.home = tmp_path / "home"
            (self.home / "mail").mkdir(parents=True)
            self.top = None
        else:
            self.top, home, self.maildir = make_home(None)
            self.home = Path(home)
        self.procs: list[ImapProcess] = []

    def close(self) -> None:
        for proc in self.procs:
            proc.close()
        if self.top is not None:
            shutil.rmtree(self.top, ignore_errors=True)

    def spawn(self) -> ImapProcess:
        if self.backend == "mbox":
            proc = spawn_ours_mbox(self.home)
        else:
            proc = spawn_ours(self.maildir, copy=False)
        self.procs.append(proc)
        return proc


@pytest.fixture(params=["maildir", "mbox"])
def mail(request, tmp_path) -> Iterator[Home]:
    home = Home(request.param, tmp_path)
    yield home
    home.close()


def _a_and_b(mail: Home) -> tuple[ImapProcess, ImapProcess]:
    """A and B selected on INBOX (three messages), a target ``Dest``; A expunged message 2."""
    a, b = mail.spawn(), mail.spawn()
    for n in range(1, 4):
        assert status_of(a.command("APPEND INBOX", [MESSAGE % (n, n)])) == b"OK"
    assert status_of(a.command("CREATE Dest")) == b"OK"
    for proc in (a, b):
        assert b"* 3 EXISTS\r\n" in proc.command("SELECT INBOX")
    a.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert b"* 2 EXPUNGE\r\n" in a.command("EXPUNGE")
    return a, b


def _counts(mail: Home) -> tuple[bytes, bytes]:
    """STATUS MESSAGES of Dest and INBOX, asked by a third process."""
    c = mail.spawn()
    dest = c.command("STATUS Dest (MESSAGES)")[0]
    inbox = c.command("STATUS INBOX (MESSAGES)")[0]
    return dest, inbox


@pytest.mark.parametrize("verb", VERBS)
def test_b_copies_a_message_a_expunged(mail, verb):
    a, b = _a_and_b(mail)
    answer = b.command(f"{verb} 1:2 Dest")
    assert answer[-1].endswith(b" " + GONE), answer
    assert answer[:-1] == [b"* 2 EXPUNGE\r\n"], answer  # no COPYUID, no EXPUNGE of message 1
    assert _counts(mail) == (b"* STATUS Dest (MESSAGES 0)\r\n", b"* STATUS INBOX (MESSAGES 2)\r\n")
    # synced, B copies what is left: messages 1:2 are UIDs 1 and 3, UIDs 1:2 only UID 1
    assert b"[COPYUID " in b"".join(b.command(f"{verb} 1:2 Dest"))
    copied = 1 if verb.startswith("UID") else 2
    assert _counts(mail)[0] == b"* STATUS Dest (MESSAGES %d)\r\n" % copied


@pytest.mark.parametrize("verb", ["COPY", "MOVE"])
def test_b_copies_a_message_whose_file_another_program_removed(tmp_path, verb):
    """Maildir: the file went without our index hearing of it (another MUA)."""
    mail = Home("maildir", tmp_path)
    try:
        b = mail.spawn()
        for n in range(1, 4):
            b.command("APPEND INBOX", [MESSAGE % (n, n)])
        b.command("CREATE Dest")
        assert b"* 3 EXISTS\r\n" in b.command("SELECT INBOX")
        cur = os.path.join(mail.maildir, "cur")
        second = sorted(os.listdir(cur))[1]
        os.unlink(os.path.join(cur, second))
        answer = b.command(f"{verb} 1:3 Dest")
        assert answer[-1].endswith(b" " + GONE), answer
        assert not any(b"COPYUID" in line for line in answer), answer
        assert _counts(mail) == (b"* STATUS Dest (MESSAGES 0)\r\n",
                                 b"* STATUS INBOX (MESSAGES 2)\r\n")
        assert not os.listdir(os.path.join(mail.maildir, ".Dest", "cur"))
    finally:
        mail.close()


@pytest.mark.skipif(not os.access(DOVECOT_IMAP, os.X_OK), reason="no Dovecot imap")
@pytest.mark.parametrize("verb", VERBS)
def test_dovecot_answers_the_same(verb):
    """The reference, two Dovecot processes on one maildir: the lines our B must send."""
    top, _home, maildir = make_home(None)
    for n in range(1, 4):
        Path(maildir, "cur", f"100000000{n}.M{n}P1.host:2,").write_bytes(MESSAGE % (n, n))
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, ".Dest", sub))
    if os.geteuid() == 0:  # Dovecot runs as nobody and writes its index beside the mail
        for root, dirs, files in os.walk(top):
            for name in [".", *dirs, *files]:
                os.lchown(os.path.join(root, name), NOBODY, NOBODY)
    procs = [spawn_dovecot(maildir, copy=False) for _ in range(3)]
    try:
        a, b, c = procs
        for proc in (a, b):
            assert b"* 3 EXISTS\r\n" in proc.command("SELECT INBOX")
        a.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
        a.command("EXPUNGE")
        answer = b.command(f"{verb} 1:2 Dest")
        assert answer[0] == b"* 2 EXPUNGE\r\n" and len(answer) == 2, answer
        assert answer[1].split(b" ", 1)[1].startswith(GONE[:-3]), answer  # then "(0.001 ... secs)"
        assert c.command("STATUS Dest (MESSAGES)")[0] == b"* STATUS Dest (MESSAGES 0)\r\n"
        assert c.command("STATUS INBOX (MESSAGES)")[0] == b"* STATUS INBOX (MESSAGES 2)\r\n"
    finally:
        for proc in procs:
            proc.close()
        shutil.rmtree(top, ignore_errors=True)
