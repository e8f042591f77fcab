"""Literal spooling for both backends: an APPEND literal streamed into a tmp/ directory.

A spool is a file under a Dovecot-style unique name, written chunk by chunk and
never held in memory. Maildir spools into the target folder's own tmp/ so that
``append`` can hard-link the file into place on the same file system; mbox into
its state directory, then reads it back to append it to the mbox file.

A session killed while spooling leaves its file behind; ``sweep`` removes such
files when the directory is next used (see its docstring for how they are told
from a live writer's).
"""

from __future__ import annotations

import os
import re
import time
from typing import BinaryIO

from imapsession.storage.base import SpoolFile, StorageError
from imapsession.storage.liveness import pid_gone
from imapsession.storage.meta import crlf_size
from imapsession.storage.modes import Modes

TMP_MAX_AGE_S = 36 * 3600  # the Maildir rule: anything in tmp/ this old is abandoned
_OURS = re.compile(r"\A\d+\.M\d+P(\d+)Q\d+\.(.+)\Z")

_counter = 0


def _hostname() -> str:
    host = os.uname().nodename or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072")


def unique_base() -> str:
    """A Dovecot-style unique name: ``<time>.M<usec>P<pid>Q<n>.<host>``."""
    global _counter
    _counter += 1
    now = time.time()
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    return f"{sec}.M{usec}P{os.getpid()}Q{_counter}.{_hostname()}"


def _writer_dead(name: str) -> bool:
    """True when ``name`` is one of our spool names and the process that wrote it is gone.

    Our names carry ``P<pid>Q<n>.<host>`` (Dovecot's deliveries have no ``Q``): the
    pid is only meaningful on this host, and a pid alive now (even a recycled one,
    or another user's: EPERM) keeps the file until the 36-hour rule takes it.
    """
    match = _OURS.match(name)
    if match is None or match.group(2) != _hostname():
        return False
    return pid_gone(int(match.group(1)))


def sweep(tmp_dir: str, now: float | None = None) -> int:
    """Remove spools a killed session left in ``tmp_dir``; returns how many went.

    A file goes when its writer is dead (our own names), or, whoever wrote it,
    when it has not changed for 36 hours (Maildir's rule for tmp/).
    """
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(tmp_dir))
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > TMP_MAX_AGE_S
            if old or _writer_dead(entry.name):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # vanished meanwhile, or not ours to remove
    return removed


class TmpSpool(SpoolFile):
    """An APPEND literal streamed into a tmp/ directory; ``append`` links it into place."""

    def __init__(self, tmp_dir: str, modes: Modes):
        self.path = os.path.join(tmp_dir, unique_base())
        fd = modes.open(self.path)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._size = 0
        self.vsize = 0
        self._last = -1

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise StorageError("spool already closed")
        if not chunk:
            return
        self._file.write(chunk)
        self._size += len(chunk)
        self.vsize += crlf_size(chunk, self._last)
        self._last = chunk[-1]

    @property
    def size(self) -> int:
        return self._size

    def read_all(self) -> bytes:
        if self._file is not None:
            self._file.flush()
        with open(self.path, "rb") as handle:
            return handle.read()

    def finish(self) -> str:
        """Flush and fsync; the path is then ready to be linked into new/ or cur/."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
