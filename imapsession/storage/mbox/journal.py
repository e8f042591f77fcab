"""A rollback journal for rewriting an mbox in place (the way SQLite keeps its database).

Theory of operation
-------------------
Users cannot create files in /var/mail, so EXPUNGE cannot write a new file and
rename it: it rewrites the tail of the mbox in place. Before the first byte
changes, the old tail ``[start, old_size)`` is copied into a journal beside the
index with a header naming the file, both sizes and a CRC, and fsynced. Then
the new tail is written (the file is first extended when it grows, so its size
is always one of the two recorded ones), fsynced, a ``COMMIT`` line is added to
the journal, the file is truncated to its new size, and the journal is removed.

``recover`` runs before anything else opens the mbox (under its write lock):

- no journal, or a journal cut short or failing its CRC: the mbox was never
  touched, the journal is dropped;
- a whole journal without COMMIT: the old tail is written back (roll back);
- a journal with COMMIT: the new content is complete, the file is truncated
  to its new size (roll forward).

Either way, bytes an MDA appended after a crash (it found the dot-lock stale)
start with a ``From `` line at one of the two recorded sizes; they are kept
after the restored content. A process killed at any instant therefore leaves
the old or the new content, never a mix, and never loses a delivery.
"""

from __future__ import annotations

import os
import zlib

from imapsession.storage.modes import Modes

MAGIC = b"IMAPSESSION-MBOX-JOURNAL 1"
COMMIT = b"COMMIT\n"
_CHUNK = 1 << 20


def fault(point: str) -> None:
    """A test hook: with IMAPSESSION_MBOX_FAULT=point[:n] the process dies at the n-th hit."""
    wanted = os.environ.get("IMAPSESSION_MBOX_FAULT")
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] >= int(count or 1):
        os.kill(os.getpid(), 9)


_hits: dict[str, int] = {}


def fsync_dir(path: str) -> None:
    """Make a file's creation or removal durable (its directory entry)."""
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def begin(journal: str, fd: int, start: int, old_size: int, new_size: int,
          modes: Modes | None = None) -> None:
    """Save ``[start, old_size)`` of the mbox open as ``fd``; durable before returning.

    The journal holds mail text: its mode is the mail's (private by default).
    """
    crc = 0
    tmp_fd = (modes or Modes.private()).open(journal, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(tmp_fd, b"%s %d %d %d %010d\n" % (MAGIC, start, old_size, new_size, 0))
        pos = start
        while pos < old_size:
            chunk = os.pread(fd, min(_CHUNK, old_size - pos), pos)
            if not chunk:
                raise OSError("mbox shrank while journaling")
            os.write(tmp_fd, chunk)
            crc = zlib.crc32(chunk, crc)
            pos += len(chunk)
            fault("journal-copy")
        header = b"%s %d %d %d %010d\n" % (MAGIC, start, old_size, new_size, crc)
        os.pwrite(tmp_fd, header, 0)
        os.fsync(tmp_fd)
    finally:
        os.close(tmp_fd)
    fsync_dir(journal)


def commit(journal: str) -> None:
    with open(journal, "ab") as handle:
        handle.write(COMMIT)
        handle.flush()
        os.fsync(handle.fileno())


def finish(journal: str) -> None:
    os.unlink(journal)
    fsync_dir(journal)


def _read(journal: str) -> tuple[int, int, int, bytes, bool] | None:
    """(start, old_size, new_size, old tail, committed), or None for an unusable journal."""
    try:
        with open(journal, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    line, nl, rest = data.partition(b"\n")
    fields = line.split(b" ")
    if not nl or b" ".join(fields[:2]) != MAGIC or len(fields) != 6:
        return None
    try:
        start, old_size, new_size, crc = (int(f) for f in fields[2:])
    except ValueError:
        return None
    length = old_size - start
    tail, trailer = rest[:length], rest[length:]
    if len(tail) != length or zlib.crc32(tail) != crc:
        return None
    return start, old_size, new_size, tail, trailer == COMMIT


def recover(journal: str, fd: int) -> bool:
    """Finish or undo an interrupted rewrite of the mbox open read-write as ``fd``.

    Returns True when the file was changed.
    """
    state = _read(journal)
    if state is None:
        if os.path.exists(journal):
            finish(journal)
        return False
    start, old_size, new_size, old_tail, committed = state
    size = os.fstat(fd).st_size
    if new_size > old_size:  # the file was extended to new_size before any byte changed
        order = (new_size,) if committed else (new_size, old_size)
    else:  # it stays old_size long until the truncation after COMMIT
        order = (old_size, new_size) if committed else (old_size,)
    extra_at = size
    for candidate in order:
        if candidate <= size and (candidate == size or os.pread(fd, 5, candidate) == b"From "):
            extra_at = candidate
            break
    extra = b""
    if extra_at < size:
        extra = os.pread(fd, size - extra_at, extra_at)
    if committed:
        end = new_size
    else:
        os.pwrite(fd, old_tail, start)
        end = old_size
    if extra:
        os.pwrite(fd, extra, end)
    os.ftruncate(fd, end + len(extra))
    os.fsync(fd)
    finish(journal)
    return True
