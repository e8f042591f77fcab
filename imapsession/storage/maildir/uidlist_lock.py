"""Dovecot's dot-lock on ``dovecot-uidlist``: the one lock both servers' UID allocators share.

Dovecot creates ``dovecot-uidlist.lock`` with O_EXCL and writes ``<pid>:<host>``
into it, holds it while it allocates UIDs or rewrites the uidlist, and overrides a
lock that has not been touched for ``MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`` (120 s),
or whose process on this host is gone. A lock still empty after ``EMPTY_SECONDS``
is one whose creator was killed before writing its pid: stale too (Dovecot would
wait the 120 s for it). We do the same, so that a Dovecot serving the same
maildir and we never hand out the same UID: take the lock, re-read the uidlist,
allocate, write, release.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from imapsession.storage.base import NoSuchMailbox, StorageError
from imapsession.storage.liveness import pid_gone
from imapsession.storage.modes import Modes

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
STALE_SECONDS = 120.0  # Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT
WAIT_SECONDS = STALE_SECONDS + 2  # Dovecot waits stale + 2 s before failing
EMPTY_SECONDS = 2.0  # an empty lock this old lost its creator between open and write
_POLL = 0.01
_held: dict[str, int] = {}  # lock path -> depth, for the locks this process holds


class UidlistLockTimeout(StorageError):
    """The uidlist stayed locked by a live holder for longer than Dovecot would wait."""

    code = "INUSE"


def _holder_gone(path: str) -> bool:
    """True when the lock names a process of this host that no longer exists."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            pid_text, _, host = handle.read().strip().partition(":")
    except OSError:
        return False
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return pid_gone(int(pid_text))


def _stale(path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    age = time.time() - st.st_mtime
    if st.st_size == 0:
        return age > EMPTY_SECONDS
    return age > STALE_SECONDS or _holder_gone(path)


@contextmanager
def uidlist_locked(uidlist_path: str, modes: Modes,
                   wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold ``<uidlist>.lock`` (O_EXCL, Dovecot's content), overriding a stale one.

    Re-entrant within this process: an operation that locks and then calls a scan
    that locks again holds it once.
    """
    lock = uidlist_path + LOCK_SUFFIX
    if _held.get(lock, 0):
        _held[lock] += 1
        try:
            yield
        finally:
            _held[lock] -= 1
        return
    deadline = time.monotonic() + wait
    pause = _POLL
    while True:
        try:
            fd = modes.open(lock)  # O_EXCL, as Dovecot's dotlock_use_excl
            break
        except FileNotFoundError:  # the folder went (DELETE or RENAME elsewhere)
            raise NoSuchMailbox(f"Mailbox doesn't exist: {os.path.dirname(lock)}") from None
        except FileExistsError:
            if _stale(lock):
                log.warning("overriding stale lock %s", lock)
                try:
                    os.unlink(lock)
                except FileNotFoundError:
                    pass
                continue
            if time.monotonic() > deadline:
                raise UidlistLockTimeout(f"Timeout while waiting for lock {lock}") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
    try:
        os.write(fd, f"{os.getpid()}:{socket.gethostname()}".encode("ascii", "replace"))
    finally:
        os.close(fd)
    _held[lock] = 1
    try:
        yield
    finally:
        _held.pop(lock, None)
        try:
            os.unlink(lock)
        except FileNotFoundError:
            log.warning("lock %s was overridden while held", lock)
