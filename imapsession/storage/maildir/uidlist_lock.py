"""Dovecot's dot-lock on ``dovecot-uidlist``: the one lock both servers' UID allocators share.

Dovecot creates ``dovecot-uidlist.lock`` exclusively (O_EXCL, or, as here, a
temporary file holding ``<pid>:<host>`` hard-linked to the name, so that a process
killed while creating it never leaves an empty lock),
for as long as it allocates UIDs or rewrites the uidlist, and overrides a lock
that has not been touched for ``MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`` (120 s), or
whose local process is gone. We do the same, so that a Dovecot serving the same
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

from imapsession.storage.base import StorageError
from imapsession.storage.modes import Modes

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
STALE_SECONDS = 120.0  # Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT
WAIT_SECONDS = STALE_SECONDS + 2  # Dovecot waits stale + 2 s before failing
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
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _stale(path: str) -> bool:
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return False
    return age > STALE_SECONDS or _holder_gone(path)


def _write_temp(lock: str, modes: Modes) -> str:
    """``<pid>:<host>`` in a file of our own beside the lock, to be linked to its name."""
    host = socket.gethostname()
    folder, name = os.path.split(lock)
    temp = os.path.join(folder, f".temp.{host}.{os.getpid()}.{name}")
    try:
        os.unlink(temp)  # left by a killed process that had our pid
    except FileNotFoundError:
        pass
    fd = modes.open(temp)
    try:
        os.write(fd, f"{os.getpid()}:{host}".encode("ascii", "replace"))
    finally:
        os.close(fd)
    return temp


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
    temp = _write_temp(lock, modes)
    try:
        while True:
            try:
                os.link(temp, lock)  # atomic: the lock never exists without its holder
                break
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
    finally:
        os.unlink(temp)
    _held[lock] = 1
    try:
        yield
    finally:
        _held.pop(lock, None)
        try:
            os.unlink(lock)
        except FileNotFoundError:
            log.warning("lock %s was overridden while held", lock)
