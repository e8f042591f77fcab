"""Literal spooling for both backends: an APPEND literal streamed into a tmp/ directory.

A spool is a file under a Dovecot-style unique name, written chunk by chunk and
never held in memory. Maildir spools into the target folder's own tmp/ so that
``append`` can hard-link the file into place on the same file system; mbox into
its state directory, then reads it back to append it to the mbox file.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO

from imapsession.storage.base import SpoolFile, StorageError
from imapsession.storage.meta import crlf_size

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


class TmpSpool(SpoolFile):
    """An APPEND literal streamed into a tmp/ directory; ``append`` links it into place."""

    def __init__(self, tmp_dir: str):
        self.path = os.path.join(tmp_dir, unique_base())
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
