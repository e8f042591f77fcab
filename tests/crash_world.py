"""The mail a crash trial starts from, and what a fresh process sees of it afterwards.

A *world* is one user's mail on one backend (``maildir`` or ``mbox``): INBOX
with five messages (one of 1 MB, two flagged ``\\Deleted``, one with a keyword)
and a folder ``Other`` with two. ``snapshot`` opens it with a new server process,
as the next client would (so recovery runs first), and reads every message of
every mailbox: UIDVALIDITY, and per UID the Message-ID, flags and a digest of the
whole message. ``leftovers`` lists what a killed process may leave beside the mail.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from imapproc import ImapProcess, ours_argv, ours_env, spawn

BIG_LINE = b"y" * 76 + b"\r\n"


def message(tag: str, lines: int = 4) -> bytes:
    """A message recognisable by its Message-ID <tag@crash>."""
    return (f"From: a@crash\r\nSubject: {tag}\r\nMessage-ID: <{tag}@crash>\r\n\r\n"
            f"body of {tag}\r\n").encode() + BIG_LINE * lines


# (mailbox, tag, lines, flags): the world every trial starts from
BASE = [
    ("INBOX", "in1", 4, "(\\Seen OldKw)"),
    ("INBOX", "in2", 4, "(\\Deleted)"),
    ("INBOX", "in3", 13_000, "(\\Seen)"),  # 1 MB: room for a kill inside a copy
    ("INBOX", "in4", 4, "(\\Deleted \\Answered)"),
    ("INBOX", "in5", 4, "()"),
    ("Other", "ot1", 4, "(\\Seen)"),
    ("Other", "ot2", 4, "(\\Flagged)"),
]


@attrs.frozen
class Message:
    tag: str
    flags: frozenset[str]
    digest: str


@attrs.frozen
class Box:
    uidvalidity: int
    messages: dict[int, Message]  # by UID


def mail_dir(home: Path, backend: str) -> Path:
    return home / ("Maildir" if backend == "maildir" else "mail")


def index_path(home: Path, backend: str) -> Path:
    if backend == "maildir":
        return home / "Maildir" / "imapsession.index.sqlite"
    return home / "mail" / ".imap" / "imapsession.index.sqlite"


def spawn_server(home: Path, backend: str, argv_prefix: tuple[str, ...] = (),
                 **kwargs) -> ImapProcess:
    """Our server on the world in ``home``; ``argv_prefix`` runs it under e.g. strace."""
    mail = str(mail_dir(home, backend))
    extra = {"MAIL": f"mbox:{mail}:INBOX={mail}/inbox"} if backend == "mbox" else {}
    env = ours_env(str(home), mail, **extra)
    return spawn([*argv_prefix, *ours_argv()], env, cwd=str(home), home=str(home), **kwargs)


def make_base(home: Path, backend: str) -> None:
    """Build the starting world in ``home`` with our own server."""
    home.mkdir(parents=True)
    if backend == "maildir":
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
    else:
        (home / "mail").mkdir()
    with spawn_server(home, backend, timeout=60) as ours:
        assert b"OK" in ours.command("CREATE Other")[-1]
        for box, tag, lines, flags in BASE:
            answer = ours.command(f"APPEND {box} {flags}", [message(tag, lines)], sync=False)
            assert b"OK" in answer[-1], answer
        ours.logout()


def copy_world(base: Path, home: Path) -> None:
    """A copy the server takes for the same mail.

    A Maildir index remembers the inode of each folder's cur/ and treats another
    inode as another folder (new UIDVALIDITY); a copy has new inodes, so the
    copy's index is told them, as if the mail had never moved.
    """
    shutil.copytree(base, home, symlinks=True)
    index = index_path(home, "maildir")
    if not index.exists():
        return
    db = sqlite3.connect(index)
    try:
        for box_id, name in db.execute("SELECT id, name FROM mailbox").fetchall():
            folder = home / "Maildir" / ("" if name == "INBOX" else "." + name)
            cur = folder / "cur"
            if cur.is_dir():
                db.execute("UPDATE mailbox SET dir_ino = ? WHERE id = ?",
                           (cur.stat().st_ino, box_id))
        db.commit()
    finally:
        db.close()


def leftover_kind(path: str) -> str:
    """What a leftover is, for counting: tmp/ file, journal, dot-lock or spool file."""
    name = Path(path).name
    if name.startswith("journal-"):
        return "journal"
    if name.endswith((".lock", ".lock.tmp")):  # the lock, or the temp file it is made from
        return "dot-lock"
    return "spool" if "imapsession-tmp" in path else "tmp/"


_LIST = re.compile(rb'\* LIST \(([^)]*)\) (?:"[^"]*"|NIL) "?([^"\r\n]*)"?\r\n')
_FETCH = re.compile(rb"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) BODY\[\] \{(\d+)\}\r\n")


def _read_box(ours: ImapProcess, name: str) -> Box | None:
    answer = ours.command(f'SELECT "{name}"')
    if b" OK " not in answer[-1]:
        return None
    got = re.search(rb"\[UIDVALIDITY (\d+)\]", b"".join(answer))
    assert got, answer
    messages: dict[int, Message] = {}
    for response in ours.command("UID FETCH 1:* (FLAGS BODY.PEEK[])")[:-1]:
        match = _FETCH.match(response)
        assert match, response[:200]
        body = response[match.end():match.end() + int(match.group(3))]
        tag = re.search(rb"Message-ID: <([^@>]*)@crash>", body)
        flags = frozenset(f for f in match.group(2).decode().split() if f != "\\Recent")
        messages[int(match.group(1))] = Message(
            tag.group(1).decode() if tag else "?", flags, hashlib.sha256(body).hexdigest())
    return Box(int(got.group(1)), messages)


def snapshot(home: Path, backend: str) -> dict[str, Box]:
    """Every selectable mailbox as a fresh process sees it."""
    with spawn_server(home, backend, timeout=60) as ours:
        listing = b"".join(ours.command('LIST "" "*"'))
        names = [m[1].decode() for m in _LIST.findall(listing) if b"\\Noselect" not in m[0]]
        boxes = {}
        for name in names:
            box = _read_box(ours, name)
            if box is not None:
                boxes[name] = box
        ours.logout()
    return boxes


def expected_digest(tag: str, lines: int = 4) -> str:
    """The digest a message appended as ``message(tag, lines)`` is served with."""
    return hashlib.sha256(message(tag, lines)).hexdigest()


def integrity(home: Path, backend: str) -> str:
    """``PRAGMA integrity_check`` of the index ('ok' when sound)."""
    db = sqlite3.connect(index_path(home, backend))
    try:
        return ";".join(row[0] for row in db.execute("PRAGMA integrity_check"))
    finally:
        db.close()


def leftovers(home: Path, backend: str) -> list[str]:
    """Files a killed process left that nothing cleaned up: tmp/ files, journals, dot-locks."""
    top = mail_dir(home, backend)
    found = []
    for path in _walk(top):
        rel = str(path.relative_to(top))
        parts = path.relative_to(top).parts
        if backend == "maildir" and len(parts) >= 2 and parts[-2] == "tmp":
            found.append(rel)
        elif backend == "mbox" and (parts[-1].startswith("journal-") or parts[-1].endswith(
                (".lock", ".lock.tmp")) or "imapsession-tmp" in parts[:-1]):
            found.append(rel)
    return sorted(found)


def _walk(top: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            yield Path(dirpath) / name


@contextmanager
def world_copy(base: Path, tmp: Path) -> Iterator[Path]:
    """A private copy of the world, removed afterwards."""
    home = tmp / "home"
    copy_world(base, home)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)
