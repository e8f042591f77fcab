"""Eight real server processes hammer one mailbox; at the end every view, the index
and the files agree (issue "The core", done-means: the stress test).

Each round sends one random command to every process before reading any answer,
so the eight run at the same time. Each process's sequence numbers are tracked
from its own EXISTS/EXPUNGE responses, as a client would.
"""

from __future__ import annotations

import os
import random
import re
import shutil

import pytest

from imapproc import make_home, spawn_ours
from imapsession.storage.maildir import open_maildir

PROCESSES = 8
COMMANDS_EACH = int(os.environ.get("STRESS_COMMANDS", "500"))
FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1", "todo", "later")
_UNTAGGED = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\r\n", re.M)
_FETCH = re.compile(rb"^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)\r\n", re.M)


class Client:
    """One process plus what its client knows: how many messages it sees."""

    def __init__(self, maildir: str):
        self.proc = spawn_ours(maildir, copy=False, timeout=60)
        self.exists = 0
        self.tag = ""
        self.command = b""

    def send(self, command: bytes) -> None:
        self.tag = self.proc.next_tag()
        self.command = command
        self.proc.send_raw(self.tag.encode() + b" " + command + b"\r\n")

    def finish(self) -> bytes:
        text = b"".join(self.proc.read_until_tagged(self.tag))
        name = self.command.split(b" ")[0].upper()
        assert b"[SERVERBUG]" not in text and b"Traceback" not in text, (
            text, self.proc.stderr_text()[-3000:])
        assert f"{self.tag} BAD".encode() not in text, (self.command, text)
        for match in _UNTAGGED.finditer(text):
            number, kind = int(match.group(1)), match.group(2)
            if kind == b"EXISTS":
                assert number >= self.exists or b"EXPUNGE" in text, text
                self.exists = number
            else:
                # RFC 3501 7.4.1: never during FETCH, STORE or SEARCH by sequence number
                assert name not in (b"FETCH", b"STORE", b"SEARCH"), (self.command, text)
                assert 1 <= number <= self.exists, text
                self.exists -= 1
        return text


def _random_command(rng: random.Random, client: Client, counter: list[int]) -> bytes:
    seq = rng.randint(1, client.exists) if client.exists else None
    choice = rng.random()
    if seq is None or choice < 0.2:
        counter[0] += 1
        body = b"From: stress@example.org\r\nSubject: n%d\r\n\r\nbody %d\r\n" % (counter[0], counter[0])
        return b"APPEND INBOX {%d+}\r\n" % len(body) + body
    if choice < 0.45:
        mode = rng.choice((b"+FLAGS", b"-FLAGS", b"FLAGS"))
        flags = b" ".join(f.encode() for f in rng.sample(FLAGS, rng.randint(1, 3)))
        return b"STORE %d %s (%s)" % (seq, mode, flags)
    if choice < 0.55:
        return b"STORE %d +FLAGS.SILENT (\\Deleted)" % seq
    if choice < 0.62:
        return b"EXPUNGE"
    if choice < 0.7:
        return b"COPY %d Other" % seq
    if choice < 0.85:
        return b"FETCH %d (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % seq
    if choice < 0.92:
        return b"SEARCH UNSEEN"
    return b"NOOP"


def _files_view(maildir: str) -> dict[str, frozenset[str]]:
    """Message base name -> flags, read from the file names alone."""
    letters = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
    keywords: dict[str, str] = {}
    path = os.path.join(maildir, "dovecot-keywords")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            index, _, name = line.strip().partition(" ")
            keywords[chr(ord("a") + int(index))] = name
    out = {}
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(maildir, sub)):
            base, _, info = name.partition(":2,")
            flags = frozenset(letters.get(c) or keywords[c] for c in info if c in letters or c in keywords)
            out[base] = flags
    return out


@pytest.fixture
def shared_home():
    top, home, maildir = make_home(None)
    yield maildir
    shutil.rmtree(top, ignore_errors=True)


def test_eight_processes_agree(shared_home):
    maildir = shared_home
    os.makedirs(os.path.join(maildir, ".Other", "cur"))
    os.makedirs(os.path.join(maildir, ".Other", "new"))
    os.makedirs(os.path.join(maildir, ".Other", "tmp"))
    open(os.path.join(maildir, ".Other", "maildirfolder"), "w").close()
    rng = random.Random(20261128)
    clients = [Client(maildir) for _ in range(PROCESSES)]
    counter = [0]
    try:
        for client in clients:
            client.send(b"SELECT INBOX")
        for client in clients:
            client.finish()
        for _ in range(COMMANDS_EACH):
            for client in clients:
                client.send(_random_command(rng, client, counter))
            for client in clients:
                client.finish()
        views = []
        for client in clients:
            client.send(b"NOOP")
            client.finish()
            client.send(b"FETCH 1:* (UID FLAGS)" if client.exists else b"NOOP")
            text = client.finish()
            view = {}
            for match in _FETCH.finditer(text):
                flags = frozenset(match.group(3).decode().split()) - {"\\Recent"}
                view[int(match.group(2))] = flags
            assert len(view) == client.exists
            views.append(view)
    finally:
        for client in clients:
            client.proc.close()
    assert all(view == views[0] for view in views), "the processes disagree"
    store = open_maildir(maildir)
    try:
        box = store.open_mailbox("INBOX", readonly=True)
        result = box.sync(0)
        index_view = {record.uid: record.flags for record in result.changed}
        box.close()
    finally:
        store.close()
    assert index_view == views[0]
    files = _files_view(maildir)
    assert sorted(files.values(), key=sorted) == sorted(index_view.values(), key=sorted)
    assert len(files) == len(index_view)
    assert counter[0] > 0 and len(index_view) > 0
