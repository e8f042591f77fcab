"""The mbox dot-lock's content and who may break it (issue 14: a killed writer's lock).

Dovecot reads ``PID:HOST`` and breaks a lock whose pid is dead on its own host at
once; anything else it leaves for its 120-second change timeout (dovecot-lda's
timing is in test_mbox_mda.py). A reader of ours breaks only a dead pid's lock on
this host; the lock is made through a temp file so that a kill never leaves one empty.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

import imapsession.storage.mbox.lock as mbox_lock
from imapsession.storage.modes import Modes

HOST = socket.gethostname()


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.fixture
def box(tmp_path: Path):
    path = tmp_path / "box"
    path.write_bytes(b"")
    return path


def _held(path: Path, write: bool) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        with mbox_lock.locked(str(path), fd, write=write, timeout=1.0):
            if write:
                text = Path(str(path) + ".lock").read_bytes()
                assert text == f"{os.getpid()}:{HOST}".encode()
    finally:
        os.close(fd)


def test_the_lock_holds_pid_colon_host_and_leaves_nothing(box):
    _held(box, write=True)
    assert sorted(os.listdir(box.parent)) == ["box"]


@pytest.mark.parametrize("content", ["{dead}:{host}", "{dead}\n"], ids=["dovecot", "bare-pid"])
def test_a_reader_breaks_a_dead_pids_lock(box, content):
    lock = Path(str(box) + ".lock")
    lock.write_text(content.format(dead=_dead_pid(), host=HOST))
    _held(box, write=False)
    assert not lock.exists()


@pytest.mark.parametrize("content", ["1:{host}", "{dead}:elsewhere.example", ""],
                         ids=["live-pid", "other-host", "empty"])
def test_a_reader_leaves_a_lock_it_cannot_tell_is_dead(box, content):
    lock = Path(str(box) + ".lock")
    lock.write_text(content.format(dead=_dead_pid(), host=HOST))
    _held(box, write=False)
    assert lock.exists()


def test_a_temp_file_a_killed_locker_left_is_removed(box):
    temp = box.parent / ".box.lock.tmp"
    temp.write_text(f"{_dead_pid()}:{HOST}")
    _held(box, write=True)
    assert sorted(os.listdir(box.parent)) == ["box"]
    temp.write_text(f"{_dead_pid()}:{HOST}")
    _held(box, write=False)
    assert not temp.exists()


def test_without_unnamed_files_the_lock_is_made_through_a_named_temp(box, monkeypatch):
    def unsupported(self, path, data):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(Modes, "create_whole", unsupported)
    _held(box, write=True)
    assert sorted(os.listdir(box.parent)) == ["box"]
