"""An intent record for appending to an mbox, so a process killed mid-write leaves no fragment.

Theory of operation
-------------------
A large APPEND (or COPY into an mbox) is one long write at the end of the file.
Killed inside it, the process leaves a message cut short, which the next parse
would give a UID. So before the first byte, the journal file of the mbox (the
same path the rewrite journal uses, so every reader already finishes it before
trusting the file) records the old size, the intended end and a CRC of the
bytes to come, and is fsynced; then the file is *extended to the intended end*
(one ftruncate: the new region is zeros), then the bytes are written, fsynced,
and the record removed.

``recover`` runs under the write lock (dot-lock and fcntl) of the next process
that opens the mbox, with the file of size ``size``:

- ``size < end``: the extension never happened, so none of our bytes are in the
  file; whatever lies after ``old`` is an MDA's (it found our dot-lock stale
  once we were dead) and is kept.
- ``[old, end)`` has the recorded CRC: the write was complete; kept.
- otherwise, when the byte at ``end - 1`` is NUL (our last byte is always the
  separator LF, so a NUL there is the unwritten rest of the extension): the
  region is our fragment. It is cut out, and what follows it (an MDA can only
  have appended at or after ``end``, the size it found) moves down to ``old``.
- otherwise an MDA appended at ``old`` more than our length before our
  extension: nothing of ours is there; kept.

So recovery never cuts a message an MDA appended after ours, and a message of
ours is either all there or not there at all.
"""

from __future__ import annotations

import os
import zlib

import imapsession.storage.mbox.journal as journal
from imapsession.storage.modes import Modes

MAGIC = b"IMAPSESSION-MBOX-APPEND 1"
_CHUNK = 1 << 20


def is_append(path: str) -> bool:
    """True when the journal file at ``path`` is an append record (not a rewrite journal)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except FileNotFoundError:
        return False


def begin(path: str, fd: int, old: int, blob: bytes, modes: Modes) -> None:
    """Record the intended append of ``blob`` at ``old``, durably, then extend the file.

    The record takes the mail's file mode (``modes``), so that another member of a
    shared mailbox's group can read it to recover."""
    end = old + len(blob)
    record = b"%s %d %d %d\n" % (MAGIC, old, end, zlib.crc32(blob))
    tmp_fd = modes.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(tmp_fd, record)
        os.fsync(tmp_fd)
    finally:
        os.close(tmp_fd)
    journal.fsync_dir(path)
    journal.fault("append-recorded")
    os.ftruncate(fd, end)


def _read(path: str) -> tuple[int, int, int] | None:
    """(old size, intended end, CRC), or None for a record cut short."""
    try:
        with open(path, "rb") as handle:
            line = handle.read(256)
    except FileNotFoundError:
        return None
    fields = line.split(b"\n", 1)[0].split(b" ")
    if not line.endswith(b"\n") or b" ".join(fields[:2]) != MAGIC or len(fields) != 5:
        return None
    try:
        old, end, crc = (int(f) for f in fields[2:])
    except ValueError:
        return None
    return old, end, crc


def _crc(fd: int, start: int, end: int) -> int:
    crc, pos = 0, start
    while pos < end:
        chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
        if not chunk:
            break
        crc = zlib.crc32(chunk, crc)
        pos += len(chunk)
    return crc


def recover(path: str, fd: int) -> bool:
    """Cut out a fragment an interrupted append left in the mbox open read-write as ``fd``.

    Returns True when the file was changed.
    """
    state = _read(path)
    changed = False
    if state is not None:
        old, end, crc = state
        size = os.fstat(fd).st_size
        if size >= end > old and _crc(fd, old, end) != crc and \
                os.pread(fd, 1, end - 1) == b"\0":
            extra = os.pread(fd, size - end, end) if size > end else b""
            if extra.lstrip(b"\n").startswith(b"From "):
                extra = extra.lstrip(b"\n")  # an MDA that saw no LF before it added one
            os.pwrite(fd, extra, old)
            os.ftruncate(fd, old + len(extra))
            os.fsync(fd)
            changed = True
    if os.path.exists(path):
        journal.finish(path)
    return changed
