"""Serving one mbox message as a stream, read from the file in chunks."""

from __future__ import annotations

import io
import os

from imapsession.storage.base import MessageGone
from imapsession.storage.mbox.lock import locked


class MessageStream(io.RawIOBase):
    """A message as served (visible header, then the body read from the file in chunks),
    so a large FETCH or a header-only SEARCH never holds a whole message in memory.

    Each body read takes the shared fcntl lock and checks the file is still the one
    opened and still reaches the body's end (appends and flag writes in place are
    fine). A rewrite that moves bytes without shrinking the file is not detected
    here; the session's next sync sees it.
    """

    def __init__(self, path: str, fd: int, head: bytes, body_off: int, end_off: int,
                 ino: int):
        super().__init__()
        self._fd = fd  # a dup of the mailbox's descriptor; closed with the stream
        self._path = path
        self._head = head
        self._body_off, self._end = body_off, end_off
        self._ino = ino
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        if self._pos < len(self._head):
            chunk = self._head[self._pos:self._pos + want]
        else:
            at = self._body_off + self._pos - len(self._head)
            if at >= self._end:
                return 0
            with locked(self._path, self._fd, write=False):
                if os.stat(self._path).st_ino != self._ino or os.fstat(
                        self._fd).st_size < self._end:
                    raise MessageGone("The mailbox was rewritten while the message was read")
                chunk = os.pread(self._fd, min(want, self._end - at), at)
        buffer[:len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
