"""Locking an mbox the way MDAs do: a dot-lock file plus an fcntl lock, with a timeout.

Theory of operation
-------------------
postfix's local, procmail and dovecot-lda take ``PATH.lock`` (created with
O_EXCL) and an fcntl write lock before they append. We take the same pair for
every write and a shared fcntl lock for reads, only for as long as the read or
write lasts, so delivery is never held up by an idle session. Waiting is bounded
(``LOCK_TIMEOUT``): past it the command answers ``NO [INUSE]`` instead of hanging.

A dot-lock is stale when the process it names is gone, or when neither it nor
the mbox has changed for ``STALE_SECONDS`` (Dovecot's mbox_dotlock_change_timeout);
a stale lock is removed. Where the directory does not let us create the lock
(a /var/mail without the ``mail`` group kept), fcntl alone is used and that is
logged once: Dovecot refuses instead, we prefer serving with the lock every
modern MDA also takes.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from imapsession.storage.base import MailboxInUse
from imapsession.storage.modes import Modes

LOCK_TIMEOUT = float(os.environ.get("IMAPSESSION_MBOX_LOCK_TIMEOUT", "10"))
STALE_SECONDS = 120.0
_POLL = 0.02
_BACK_OFF = 0.2
_warned: set[str] = set()


def _stale(lock: str, mbox: str) -> bool:
    try:
        with open(lock, "rb") as handle:
            text = handle.read(32).strip()
        st = os.stat(lock)
    except OSError:
        return False
    if text.isdigit():
        pid = int(text)
        if pid > 0:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
    now = time.time()
    try:
        mbox_mtime = os.stat(mbox).st_mtime
    except OSError:
        mbox_mtime = 0.0
    return now - st.st_mtime > STALE_SECONDS and now - mbox_mtime > STALE_SECONDS


def _dotlock(path: str, deadline: float, modes: Modes) -> str | None:
    """Create ``path.lock``; its path, or None when the directory forbids it."""
    lock = path + ".lock"
    while True:
        try:
            fd = modes.open(lock)
        except FileExistsError:
            if _stale(lock, path):
                try:
                    os.unlink(lock)
                except FileNotFoundError:
                    pass
                continue
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                if lock not in _warned:
                    _warned.add(lock)
                    logging.getLogger("imapsession.mbox").warning(
                        "cannot create %s (%s): using fcntl locking only", lock, exc.strerror)
                return None
            raise
        else:
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
            return lock
        if time.monotonic() >= deadline:
            raise MailboxInUse(f"Timeout while waiting for the lock on {os.path.basename(path)}")
        time.sleep(_POLL)


def _fcntl(fd: int, kind: int, until: float) -> bool:
    """Try for the fcntl lock until ``until``; False when it stayed taken."""
    while True:
        try:
            fcntl.lockf(fd, kind | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        if time.monotonic() >= until:
            return False
        time.sleep(_POLL)


def _unlink(path: str | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


@contextmanager
def locked(path: str, fd: int, *, write: bool, timeout: float | None = None,
           modes: Modes | None = None) -> Iterator[None]:
    """Hold the mbox at ``path`` (open as ``fd``) locked for reading or writing.

    Lock order differs between programs (procmail and postfix take the dot-lock
    first; Dovecot, upgrading a read lock, holds fcntl while it waits for the
    dot-lock), so whoever holds the dot-lock and cannot get fcntl within
    ``_BACK_OFF`` lets go of it and tries again: no deadlock, only a short wait.
    """
    deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
    kind = fcntl.LOCK_EX if write else fcntl.LOCK_SH
    while True:
        dot = _dotlock(path, deadline, modes or Modes.private()) if write else None
        if _fcntl(fd, kind, min(deadline, time.monotonic() + _BACK_OFF) if write else deadline):
            break
        _unlink(dot)
        if time.monotonic() >= deadline:
            raise MailboxInUse(f"Timeout while waiting for the lock on {os.path.basename(path)}")
        time.sleep(random.uniform(_POLL, 5 * _POLL))
    try:
        yield
    finally:
        try:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            _unlink(dot)
