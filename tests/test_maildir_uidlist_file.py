"""dovecot-uidlist as we write it, and Dovecot's dot-lock, in isolation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imapsession.storage.maildir import open_maildir
from imapsession.storage.maildir.uidlist import read_dovecot_uidlist
from imapsession.storage.maildir.uidlist_file import load
from imapsession.storage.maildir.uidlist_lock import UidlistLockTimeout, uidlist_locked
from imapsession.storage.modes import Modes

MSG = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = open_maildir(str(tmp_path / "Maildir"))
    for _ in range(3):
        store.append("INBOX", MSG, frozenset(), None)
    store.close()
    return tmp_path / "Maildir"


def test_appends_are_lines_not_rewrites(folder: Path) -> None:
    path = folder / "dovecot-uidlist"
    ino = path.stat().st_ino
    store = open_maildir(str(folder))
    store.append("INBOX", MSG, frozenset(), None)
    store.close()
    assert path.stat().st_ino == ino  # appended in place, as Dovecot appends
    lines = path.read_text().splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3", "4"]
    assert all(" :" in line for line in lines[1:])
    assert read_dovecot_uidlist(str(folder))[1] == 5


def test_lines_another_writer_appended_are_read_from_where_we_stopped(folder: Path) -> None:
    first = load(str(folder))
    assert first is not None and first.next_uid() == 4
    with open(folder / "dovecot-uidlist", "a") as handle:
        handle.write("7 :1700000000.M1P1.elsewhere\n")
    again = load(str(folder))
    assert again is not None
    assert again.records["1700000000.M1P1.elsewhere"][0] == 7
    assert again.next_uid() == 8


def test_expunge_rewrites_without_the_gone(folder: Path) -> None:
    store = open_maildir(str(folder))
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    box.store_flags([2], "add", frozenset({"\\Deleted"}))
    assert box.expunge() == [2]
    store.close()
    validity, uidnext, uids = read_dovecot_uidlist(str(folder))
    assert sorted(uids.values()) == [1, 3]
    assert uidnext == 4  # N keeps the next UID though its line went
    assert not list(folder.glob("dovecot-uidlist.*"))  # no .tmp, no .lock left


def test_a_live_holders_lock_is_waited_for(tmp_path: Path) -> None:
    lock = tmp_path / "dovecot-uidlist.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(f"{holder.pid}:{os.uname().nodename}")
        with pytest.raises(UidlistLockTimeout):
            with uidlist_locked(str(tmp_path / "dovecot-uidlist"), Modes.private(), wait=0.3):
                pass
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("content,age", [("dead", 0), ("", 5), ("live", 200)])
def test_a_stale_lock_is_overridden(tmp_path: Path, content: str, age: int) -> None:
    """Dead holder, empty (killed before writing its pid), or older than Dovecot's 120 s."""
    lock = tmp_path / "dovecot-uidlist.lock"
    if content == "dead":
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        content = f"{gone.pid}:{os.uname().nodename}"
    elif content == "live":
        content = f"{os.getppid()}:{os.uname().nodename}"
    lock.write_text(content)
    past = time.time() - age
    os.utime(lock, (past, past))
    with uidlist_locked(str(tmp_path / "dovecot-uidlist"), Modes.private(), wait=0.3):
        assert lock.read_text() == f"{os.getpid()}:{os.uname().nodename}"
    assert not lock.exists()


def test_a_line_lost_in_a_crash_comes_back_from_the_index(folder: Path) -> None:
    path = folder / "dovecot-uidlist"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # UID 3's line never reached the disk
    store = open_maildir(str(folder))
    store.append("INBOX", MSG, frozenset(), None)
    store.close()
    assert sorted(read_dovecot_uidlist(str(folder))[2].values()) == [1, 2, 3, 4]
