"""Locking an mbox the way MDAs do: a dot-lock file plus an fcntl lock, with a timeout.

Theory of operation
-------------------
postfix's local, procmail and dovecot-lda take ``PATH.lock`` (created with
O_EXCL) and an fcntl write lock before they append. We take the same pair for
every write and a shared fcntl lock for reads, only for as long as the read or
write lasts, so delivery is never held up by an idle session. Waiting is bounded
(``LOCK_TIMEOUT``): past it the command answers ``NO [INUSE]`` instead of hanging.

Our dot-lock holds ``PID:HOST`` as Dovecot's does (``lock_content``), so that
dovecot-lda breaks the lock of a killed session of ours in about two seconds
instead of its 120-second change timeout. A dot-lock is stale when the process it
names on this host is gone, or when neither it nor the mbox has changed for
``STALE_SECONDS`` (Dovecot's mbox_dotlock_change_timeout); a writer removes a
stale lock, and a reader removes one whose process is gone (``break_dead_lock``),
so a killed writer's lock does not wait for our next writer. Where the directory does not let us create the lock
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
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from imapsession.storage.base import MailboxInUse
from imapsession.storage.liveness import pid_gone
from imapsession.storage.modes import UNNAMED_UNSUPPORTED, Modes

LOCK_TIMEOUT = float(os.environ.get("IMAPSESSION_MBOX_LOCK_TIMEOUT", "10"))
STALE_SECONDS = 120.0
_POLL = 0.02
_BACK_OFF = 0.2
_warned: set[str] = set()


def lock_content() -> bytes:
    """What our dot-lock holds: ``PID:HOST``, as Dovecot writes it (no newline).

    Dovecot (dovecot-lda, imap) reads a lock older than 2 s as ``pid:host`` and, when
    the host is its own ``gethostname()`` and the pid is dead, breaks it at once;
    anything else (a bare pid) it breaks only once neither the lock nor the mbox has
    changed for its stale timeout (120 s for mbox). procmail and postfix go by age.
    """
    return f"{os.getpid()}:{socket.gethostname()}".encode()


def _holder(text: bytes) -> int | None:
    """The pid a lock names on this host: ``PID:HOST`` (ours, Dovecot's) or a bare
    ``PID`` (older versions of ours, some MDAs); None for another host or no pid."""
    pid_text, sep, host = text.strip().partition(b":")
    if sep and host.decode(errors="replace") != socket.gethostname():
        return None
    if not pid_text.isdigit() or int(pid_text) <= 0:
        return None
    return int(pid_text)


def _dead(pid: int | None) -> bool:
    return pid is not None and pid_gone(pid)


def _read_lock(lock: str) -> tuple[bytes, os.stat_result] | None:
    try:
        with open(lock, "rb") as handle:
            return handle.read(512), os.fstat(handle.fileno())
    except OSError:
        return None


def _stale(lock: str, mbox: str) -> bool:
    got = _read_lock(lock)
    if got is None:
        return False
    text, st = got
    if _dead(_holder(text)):
        return True
    now = time.time()
    try:
        mbox_mtime = os.stat(mbox).st_mtime
    except OSError:
        mbox_mtime = 0.0
    return now - st.st_mtime > STALE_SECONDS and now - mbox_mtime > STALE_SECONDS


def break_dead_lock(path: str) -> bool:
    """Remove ``path.lock`` when the process it names on this host is dead (a reader's
    check: a killed writer's lock must not hold up MDAs until our next writer), and a
    temp file a killed locker left beside it.

    The lock is looked at again before the unlink: one replaced meanwhile (another
    inode) is a live writer's and stays. True when it was removed.
    """
    lock = path + ".lock"
    if os.path.lexists(_temp_path(lock)):
        _clear_temp(_temp_path(lock))
    got = _read_lock(lock)
    if got is None or not _dead(_holder(got[0])):
        return False
    try:
        again = os.lstat(lock)
    except FileNotFoundError:
        return False
    if (again.st_ino, again.st_dev) != (got[1].st_ino, got[1].st_dev):
        return False
    try:
        os.unlink(lock)
    except FileNotFoundError:
        return False
    return True


def _dotlock(path: str, deadline: float, modes: Modes) -> str | None:
    """Create ``path.lock``; its path, or None when the directory forbids it."""
    lock = path + ".lock"
    while True:
        try:
            if _try_create(lock, modes):
                return lock
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
        if time.monotonic() >= deadline:
            raise MailboxInUse(f"Timeout while waiting for the lock on {os.path.basename(path)}")
        time.sleep(_POLL)


def _try_create(lock: str, modes: Modes) -> bool:
    """Create ``lock`` already holding ``PID:HOST``; False when it exists (or another
    process of ours is creating it this instant).

    The content goes into an unnamed file first (``Modes.create_whole``), or where
    there are none into a temp file, then is hard-linked as the lock (as Dovecot
    does): created empty and written after, a kill in between would leave an empty
    lock that no MDA can tell is dead, so it would wait minutes.
    """
    temp = _temp_path(lock)
    if os.path.lexists(temp):  # left by a kill where O_TMPFILE was missing
        _clear_temp(temp)
    try:
        return modes.create_whole(lock, lock_content())
    except OSError as exc:
        if exc.errno not in UNNAMED_UNSUPPORTED:
            raise
    fd = _open_temp(temp, modes)  # no O_TMPFILE here: a named temp file, cleared if left
    if fd is None:
        return False
    try:
        try:
            os.write(fd, lock_content())
        finally:
            os.close(fd)
        try:
            os.link(temp, lock)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                raise
            return _create_in_place(lock, modes)  # a file system without hard links
        return True
    finally:
        _unlink(temp)


def _temp_path(lock: str) -> str:
    return os.path.join(os.path.dirname(lock), f".{os.path.basename(lock)}.tmp")


def _open_temp(temp: str, modes: Modes) -> int | None:
    """The temp file of a lock being made, or None while a live process of ours has it."""
    for _ in range(2):
        try:
            return modes.open(temp)
        except FileExistsError:
            if not _clear_temp(temp):
                return None
    return None


def _clear_temp(temp: str) -> bool:
    """Remove a lock's temp file a killed process left; True when none is there now.

    Only we make it and only for an instant, so one naming a dead pid, or left empty
    for seconds, is a kill's leftover (looked at again before the unlink)."""
    got = _read_lock(temp)
    if got is None:
        return not os.path.lexists(temp)
    text, st = got
    if not (_dead(_holder(text)) or (not text and time.time() - st.st_mtime > 5)):
        return False
    try:
        again = os.lstat(temp)
        if (again.st_ino, again.st_dev) == (st.st_ino, st.st_dev):
            os.unlink(temp)
    except FileNotFoundError:
        pass
    return True


def _create_in_place(lock: str, modes: Modes) -> bool:
    try:
        fd = modes.open(lock)
    except FileExistsError:
        return False
    try:
        os.write(fd, lock_content())
    finally:
        os.close(fd)
    return True


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
    if not write:
        break_dead_lock(path)
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
