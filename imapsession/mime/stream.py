"""Large messages without holding them: one streamed parse, then ranges read again.

``parse_stored`` walks a stored message (LF or CRLF on disk) once, a chunk at
a time, converting to CRLF on the fly (a CR that ends a chunk waits for the
next, so CR LF split across two reads stays one line end).  The parser of
``structure.py`` runs unchanged on a ``_Window`` that holds only the octets
near its position; what stays in memory afterwards is the ``Part`` tree,
each part's header octets, and a checkpoint per chunk (CRLF offset -> file
offset) so that any CRLF range can be read again from the file.

The result, ``StoredMessage``, stands in for the CRLF ``bytes`` the rest of
the package takes: slicing it returns a kept header or reads the range
from the file, so ENVELOPE, BODYSTRUCTURE, sections and BINARY use the same
code (the same rules) as the in-memory path; ``chunks(start, stop)`` gives a
large range piece by piece for sending.

Memory: the window is about two chunks, plus a header while it is being
parsed (a header is held whole, as Dovecot's header parser holds a field;
Dovecot caps a header block at 10 MiB, ``MESSAGE_HEADER_BLOCK_DEFAULT_MAX_SIZE``).
Headers are kept in the tree up to ``HEADERS_KEPT`` octets in all; past that
a header is read again from the file when a section asks for it, and for
ENVELOPE, BODYSTRUCTURE and BINARY's encodings only its Content-* and
envelope fields are kept (``fields_header``; a header of 90 MB of other
fields costs nothing).  Only when those fields themselves pass the limit
is the whole header read back.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import BinaryIO

from .crlf import to_crlf
from .structure import Part, _Parser

CHUNK = 256 * 1024  # octets read from the file at a time (tests make it tiny)
HEADERS_KEPT = 4 * 1024 * 1024  # header octets kept with the tree, all parts together
_MARGIN = 16  # octets kept before a search's start (the parser looks back at most 2)
# fields partdata.py and envelope.py read, besides every Content-*
_ENVELOPE_NAMES = (b"date", b"subject", b"message-id", b"in-reply-to", b"from", b"sender",
                   b"reply-to", b"to", b"cc", b"bcc")

Opener = Callable[[], BinaryIO]


def crlf_chunks(stream: BinaryIO, raw_start: int = 0, chunk: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(file offset, CRLF octets) of a stored message from ``raw_start``, a chunk at a time.

    A CR ending one read waits for the next, so CR LF is never split and each
    chunk converts on its own; every offset yielded can be ``raw_start`` again.
    """
    size = chunk or CHUNK
    seekable = stream.seekable()
    if not seekable:  # e.g. an mbox message: skip forward by reading
        skip = raw_start
        while skip > 0:
            got = len(stream.read(min(skip, size)))
            if not got:
                break
            skip -= got
    position = raw_start
    carry = b""
    while True:
        if seekable:  # each read says where: two readers may share the file
            stream.seek(position)
        raw = stream.read(size)
        if not raw:
            if carry:
                yield position - len(carry), carry
            return
        start = position - len(carry)
        position += len(raw)
        raw = carry + raw if carry else raw
        if raw.endswith(b"\r"):
            raw, carry = raw[:-1], b"\r"
        else:
            carry = b""
        if raw:
            yield start, to_crlf(raw)


class _Window:
    """The parser's view of a message being read: ``bytes``-like near a forward position.

    A search drops what lies before its start (less ``_MARGIN``), a far one
    also what it has scanned (the parser then looks only near its result),
    unless a header being parsed is pinned to be kept; a pin is given up
    once the header outgrows what is left of ``HEADERS_KEPT``.  Indexing and
    slicing read ahead as needed.
    """

    def __init__(self, chunks: Iterator[tuple[int, bytes]], size: int):
        self._chunks = chunks
        self._size = size
        self.buf = b""
        self.start = 0  # CRLF offset of buf[0]
        self._lines = 0  # LFs before self.start
        self._mark = (0, 0)  # (offset, LFs before it), a cache for lines_before
        self.pin: int | None = None
        self.eof = False
        self.checkpoints: list[tuple[int, int]] = []  # (CRLF offset, file offset) per chunk
        self.headers: dict[tuple[int, int], bytes] = {}
        self.fields: dict[tuple[int, int], bytes] = {}  # Content-*/envelope fields of big headers
        self._collected: list[bytes] | None = []
        self._kept = 0

    def __len__(self) -> int:
        return self._size

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    def _more(self) -> bool:
        try:
            raw_offset, data = next(self._chunks)
        except StopIteration:
            self.eof = True
            if self.end != self._size:
                raise ValueError(f"message is {self.end} CRLF octets, not {self._size}") from None
            return False
        self.checkpoints.append((self.end, raw_offset))
        self.buf = self.buf + data if self.buf else data
        return True

    def _drop(self, before: int) -> None:
        if self.pin is not None:
            if self.end - self.pin > HEADERS_KEPT - self._kept:
                self.pin = None  # too big to keep: read again from the file when asked for
            else:
                before = min(before, self.pin)
        cut = before - self.start
        if cut > 0 and (cut >= CHUNK or cut * 2 >= len(self.buf)):
            self._lines += self.buf.count(b"\n", 0, cut)
            self.buf = self.buf[cut:]
            self.start += cut

    def _fill(self, stop: int) -> None:
        while self.end < stop and not self.eof:
            self._more()

    def find(self, sub: bytes, start: int, end: int | None = None, far: bool = False) -> int:
        """``bytes.find``; a ``far`` search forgets what it has scanned past."""
        limit = self._size if end is None else min(end, self._size)
        keep = start
        while True:
            self._drop(keep - _MARGIN)
            assert start >= self.start, "the parser looked behind its window"
            found = self.buf.find(sub, start - self.start, limit - self.start)
            if found >= 0:
                return found + self.start
            if self.end >= limit or self.eof:
                return -1
            start = max(start, self.end - len(sub) + 1)
            if far:
                keep = start
            self._more()

    def __getitem__(self, key):
        if isinstance(key, slice):
            stop = min(self._size, key.stop)
            self._fill(stop)
            assert key.start >= self.start, "the parser looked behind its window"
            return self.buf[key.start - self.start : stop - self.start]
        self._fill(key + 1)
        assert key >= self.start, "the parser looked behind its window"
        return self.buf[key - self.start]

    def startswith(self, prefix: bytes, pos: int) -> bool:
        return self[pos : pos + len(prefix)] == prefix

    @staticmethod
    def wants(head: bytes) -> bool:
        """Whether a field whose line starts with ``head`` (12 octets, lower case) may be one
        ``fields_header`` must hold: a name then a blank or a colon."""
        if head.startswith(b"content-"):
            return True
        for name in _ENVELOPE_NAMES:
            if head.startswith(name) and head[len(name) : len(name) + 1] in (b":", b" ", b"\t"):
                return True
        return False

    def collect(self, raw: bytes) -> None:
        """A wanted field of the header being parsed (kept if the header is not)."""
        if self._collected is not None:
            if self._kept + len(raw) > HEADERS_KEPT:
                self._kept -= sum(map(len, self._collected))
                self._collected = None  # too much: the whole header is read back when asked
            else:
                self._collected.append(raw)
                self._kept += len(raw)

    def header_done(self, start: int, stop: int) -> None:
        """A part's header ends: keep its octets (within ``HEADERS_KEPT``), unpin."""
        collected = self._collected
        if collected is not None:
            self._kept -= sum(map(len, collected))
        if self.pin == start and self._kept + (stop - start) <= HEADERS_KEPT:
            self.headers[(start, stop)] = self[start:stop]
            self._kept += stop - start
        elif collected is not None:
            self.fields[(start, stop)] = b"".join(collected)
            self._kept += sum(map(len, collected))
        self._collected = []
        self.pin = None

    def lines_before(self, pos: int) -> int:
        """LFs in the message before ``pos`` (``pos`` at or after the window's start)."""
        while self.end < pos and not self.eof:
            self._drop(self.end - _MARGIN)
            self._more()
        mark, lines = self._mark
        if mark < self.start or mark > pos:
            mark, lines = self.start, self._lines
        lines += self.buf.count(b"\n", mark - self.start, pos - self.start)
        self._mark = (pos, lines)
        return lines


class StoredMessage:
    """A message's CRLF form, read from its file on demand; see the module notes.

    Supports what the mime functions use on ``bytes``: ``len``, slicing,
    indexing and ``find``.  Every slice is read whole, so callers take large
    ranges through ``chunks`` instead.
    """

    def __init__(self, opener: Opener, size: int, root: Part,
                 checkpoints: list[tuple[int, int]], headers: dict[tuple[int, int], bytes],
                 handle: BinaryIO | None = None,
                 fields: dict[tuple[int, int], bytes] | None = None):
        self._opener = opener
        self._fields = fields or {}
        self._handle = handle  # a seekable file kept open: the message stays readable
        self.size = size
        self.root = root
        self._offsets = [crlf for crlf, _raw in checkpoints] or [0]
        self._raw = [raw for _crlf, raw in checkpoints] or [0]
        self._headers = headers
        self._cache = (0, b"")  # the last chunk read: (CRLF offset, octets)

    def __len__(self) -> int:
        return self.size

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """CRLF octets [start, stop), a chunk at a time, from the nearest checkpoint."""
        stop = min(stop, self.size)
        if start >= stop:
            return
        cached_at, cached = self._cache
        if cached_at <= start and stop <= cached_at + len(cached):
            yield cached[start - cached_at : stop - cached_at]
            return
        index = bisect.bisect_right(self._offsets, start) - 1
        position = self._offsets[index]
        stream = self._handle if self._handle is not None else self._opener()
        try:
            for _raw, data in crlf_chunks(stream, self._raw[index]):
                low, high = max(start - position, 0), min(stop - position, len(data))
                self._cache = (position, data)
                if low < high:
                    yield data[low:high] if (low, high) != (0, len(data)) else data
                position += len(data)
                if position >= stop:
                    return
        finally:
            if stream is not self._handle:
                stream.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def fields_header(self, part: Part) -> bytes:
        """The header to read Content-* and envelope fields from (see the module notes)."""
        key = (part.header_start, part.body_start)
        kept = self._headers.get(key)
        if kept is None:
            kept = self._fields.get(key)
        return kept if kept is not None else self[key[0] : key[1]]

    def __getitem__(self, key):
        if isinstance(key, slice):
            start = 0 if key.start is None else max(key.start, 0)
            stop = self.size if key.stop is None else min(key.stop, self.size)
            kept = self._headers.get((start, stop))
            if kept is not None:
                return kept
            return b"".join(self.chunks(start, stop))
        if not 0 <= key < self.size:
            raise IndexError(key)
        return self[key : key + 1][0]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        stop = self.size if end is None else min(end, self.size)
        tail = b""
        position = start
        for data in self.chunks(start, stop):
            found = (tail + data).find(sub)
            if found >= 0:
                return position - len(tail) + found
            tail = (tail + data)[-(len(sub) - 1) :] if len(sub) > 1 else b""
            position += len(data)
        return -1


def parse_stored(opener: Opener, size: int) -> StoredMessage:
    """Parse the stored message ``opener()`` reads (``size`` CRLF octets) in one pass.

    A seekable file stays open in the result (``close`` it), so a message
    removed meanwhile can still be sent; others are opened again per read.
    """
    stream = opener()
    try:
        window = _Window(crlf_chunks(stream), size)
        node = _Parser(window).run()
        window.lines_before(size)  # read to the end: completes the checkpoints
        while not window.eof:  # a file longer than ``size`` fails here
            window._drop(window.end)
            window._more()
        root = node.freeze(window)
    except BaseException:
        stream.close()
        raise
    handle = stream if stream.seekable() else None
    if handle is None:
        stream.close()
    return StoredMessage(opener, size, root, window.checkpoints, window.headers, handle,
                         window.fields)
