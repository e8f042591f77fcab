"""The mbox file format as Dovecot and UW imapd write it: parsing spans, rendering headers.

Theory of operation
-------------------
A file is a run of messages, each opened by a ``From `` line (envelope sender
and a ctime date) and followed by one empty separator line. Our metadata
travels in headers the other servers read: ``X-IMAPbase`` (UIDVALIDITY, the
last UID given out as 10 digits so it can be updated in place, the mailbox's keywords: like
Dovecot and UW imapd we honour only ``X-Keywords`` it declares) in the first
message only, written just before the padded block so a new keyword fits in place, ``X-UID``, ``Status`` (R seen, O old), ``X-Status`` (A
answered, F flagged, T draft, D deleted), ``X-Keywords`` (padded with spaces,
the reserved room a flag change is written into without moving a byte) and
``Content-Length``. These headers are hidden from clients and never counted in
sizes, exactly as Dovecot does.

A message ends where its ``Content-Length`` says only when that point is the
end of the file or a separator followed by a ``From `` line; otherwise the
next line that starts with ``From `` and carries a time and a year, after an
empty line, begins the next message. Bodies are stored with LF line endings;
body lines that start with ``From `` are written as ``>From `` on APPEND.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone

import attrs

from imapsession.storage.meta import crlf_size

HIDDEN = frozenset({b"x-imapbase", b"x-imap", b"x-uid", b"status", b"x-status",
                    b"x-keywords", b"content-length"})
META = frozenset({b"status", b"x-status", b"x-keywords"})  # the block rewritten in place
# X-IMAPbase and X-UID join the block where they stand next to it (we write them so);
# Dovecot reads an X-UID in the first message only after its X-IMAPbase
_BLOCK = META | {b"x-imapbase", b"x-uid"}
PADDING = 64
_FROM_LINE = re.compile(rb"From [^\n]*?\d{1,2}:\d\d(?::\d\d)?[^\n]*?\d{4}[^\n]*")
_CTIME = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" +(\d{1,2}) +(\d{1,2}):(\d\d)(?::(\d\d))?(?: +([A-Z]{3}|[+-]\d{4}))? +(\d{4})"
    rb"(?: +([+-]\d{4}))?")
_MONTHS = {m: i + 1 for i, m in enumerate(
    b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}

_STATUS = {"\\Seen": "R"}
_XSTATUS = {"\\Answered": "A", "\\Flagged": "F", "\\Draft": "T", "\\Deleted": "D"}


@attrs.frozen
class Span:
    """One message's place in the file and the metadata its headers carry."""

    from_off: int  # the 'F' of its From line
    hdr_off: int  # first header byte
    hdr_end: int  # one past the header's last LF (the empty line is not in it); equal to
    # body_off when the message has no empty line at all (a header alone)
    body_off: int  # first body byte (after the empty line)
    end_off: int  # one past the body's last byte (its final LF included)
    next_off: int  # where the next From line begins (or the file's end)
    meta_off: int  # the contiguous Status/X-Status/X-Keywords block, or -1
    meta_len: int
    uid: int  # X-UID, 0 when absent
    flags: frozenset[str]
    base: tuple[int, int, tuple[str, ...]] | None  # X-IMAPbase (uidvalidity, uidnext, keywords)
    base_off: int  # offset of X-IMAPbase's 10 last-UID digits, or -1
    fingerprint: int  # crc32 of the From line and the visible header
    date: int  # internal date from the From line, ns since the epoch
    vsize: int  # RFC822.SIZE: the visible header, the empty line and the body, in CRLF


def header_lines(header: bytes) -> list[bytes]:
    """Header fields with their continuation lines, each ending in LF."""
    out: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if out and line[:1] in (b" ", b"\t"):
            out[-1] += line
        else:
            out.append(line)
    return out


def field_name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower() if b":" in line else b""


def visible_header(header: bytes) -> bytes:
    """The header as clients see it: our metadata fields removed."""
    return b"".join(line for line in header_lines(header) if field_name(line) not in HIDDEN)


def flags_from(status: bytes, xstatus: bytes, keywords: bytes) -> frozenset[str]:
    out = set()
    if b"R" in status:
        out.add("\\Seen")
    for flag, letter in _XSTATUS.items():
        if letter.encode() in xstatus:
            out.add(flag)
    out.update(k.decode("utf-8", "replace") for k in keywords.split())
    return frozenset(out)


def parse_date(from_line: bytes) -> int:
    """The From line's ctime as ns since the epoch (UTC unless a zone is given), or now."""
    match = _CTIME.search(from_line)
    if match is None:
        return time.time_ns()
    _, mon, day, hh, mm, ss, zone1, year, zone2 = match.groups()
    try:
        stamp = datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0),
                         tzinfo=timezone.utc).timestamp()
    except ValueError:
        return time.time_ns()
    zone = zone2 or (zone1 if zone1 and zone1[:1] in b"+-" else None)
    if zone:
        sign = -1 if zone[:1] == b"-" else 1
        stamp -= sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    return int(stamp) * 1_000_000_000


def is_mbox_start(data: bytes) -> bool:
    return data[:5] == b"From "


class _Incomplete(Exception):
    """The window ends before this message does: read more of the file."""


def _next_from(data, start: int, size: int, final: bool) -> int:
    """Offset of the next real From line at or after ``start`` (a line start), or -1."""
    pos = start
    while True:
        pos = data.find(b"\nFrom ", pos - 1 if pos > 0 else 0, size)
        if pos < 0:
            if not final:
                raise _Incomplete
            return -1
        line_end = data.find(b"\n", pos + 1, size)
        if line_end < 0 and not final:
            raise _Incomplete
        line = data[pos + 1: size if line_end < 0 else line_end]
        if _FROM_LINE.fullmatch(line):
            return pos + 1
        pos += 2


def parse(data, start: int = 0, size: int | None = None) -> list[Span]:
    """Every message from ``start`` (which must be a From line, or the end) to ``size``."""
    size = len(data) if size is None else size
    return _parse_window(data[start:size], start, final=True)[0]


def parse_fd(fd: int, start: int, size: int, window: int = 4 << 20) -> list[Span]:
    """``parse`` on an open file, a window at a time: memory stays near one window."""
    import os

    spans: list[Span] = []
    pos, width = start, window
    while pos < size:
        end = min(size, pos + width)
        got, consumed = _parse_window(os.pread(fd, end - pos, pos), pos, final=end == size)
        if not got:
            width *= 2  # one message larger than the window
            continue
        spans += got
        pos, width = consumed, window
    return spans


def _parse_window(data: bytes, origin: int, final: bool) -> tuple[list[Span], int]:
    """The whole messages in ``data`` (the file from ``origin``); (spans, where the next begins).

    Offsets are the file's. Unless ``final``, a message the window cuts off is left
    for the next window.
    """
    size = len(data)
    spans: list[Span] = []
    off = 0
    try:
        while off < size:
            spans.append(_one(data, off, size, origin, final))
            off = spans[-1].next_off - origin
    except _Incomplete:
        pass
    return spans, origin + off


def _one(data: bytes, off: int, size: int, origin: int, final: bool) -> Span:
    if data[off:off + 5] != b"From ":
        raise ValueError(f"no From line at offset {origin + off}")
    line_end = data.find(b"\n", off, size)
    if line_end < 0:  # a lone From line at the end: an empty message
        if not final:
            raise _Incomplete
        line_end = size
    from_line = data[off:line_end]
    hdr_off = min(line_end + 1, size)
    if data[hdr_off:hdr_off + 1] == b"\n":
        hdr_end, body_off = hdr_off, hdr_off + 1
    elif data[hdr_off:hdr_off + 2] == b"\r\n":
        hdr_end, body_off = hdr_off, hdr_off + 2
    else:  # the empty line ends the header, with LF or CRLF
        blank = data.find(b"\n\n", hdr_off, size)
        crlf = data.find(b"\n\r\n", hdr_off, size if blank < 0 else blank)
        if crlf >= 0:
            hdr_end, body_off = crlf + 1, crlf + 3
        elif blank >= 0:
            hdr_end, body_off = blank + 1, blank + 2
        elif not final:
            raise _Incomplete
        else:
            hdr_end = body_off = size
    header = data[hdr_off:hdr_end]
    meta = _scan_header(header, origin + hdr_off)
    end_off = next_off = -1
    length = meta["length"]
    if length is not None:
        cand = body_off + length
        if not final and cand + 6 > size:
            raise _Incomplete
        if cand == size:
            end_off = next_off = size
        elif cand < size and data[cand:cand + 1] == b"\n" and (
                cand + 1 == size or data[cand + 1:cand + 6] == b"From "):
            end_off, next_off = cand, cand + 1
    if end_off < 0:
        nxt = _next_from(data, body_off, size, final) if body_off < size else -1
        if nxt < 0 and not final:
            raise _Incomplete
        next_off = size if nxt < 0 else nxt
        end_off = next_off
        if end_off - 1 >= hdr_off and data[end_off - 1:end_off] == b"\n" and (
                end_off - 1 == hdr_off or data[end_off - 2:end_off - 1] == b"\n"):
            end_off -= 1  # the empty separator line is not part of the message
        if body_off > end_off:  # the "empty line" that seemed to end the header was the
            hdr_end = body_off = end_off  # separator: a header without a body, as Dovecot
            header = data[hdr_off:hdr_end]
            meta = _scan_header(header, origin + hdr_off)
    visible = visible_header(header)
    return Span(
        from_off=origin + off, hdr_off=origin + hdr_off, hdr_end=origin + hdr_end,
        body_off=origin + body_off, end_off=origin + end_off, next_off=origin + next_off,
        meta_off=meta["meta_off"], meta_len=meta["meta_len"], uid=meta["uid"],
        flags=flags_from(meta["status"], meta["xstatus"], meta["keywords"]),
        base=meta["base"], base_off=meta["base_off"],
        fingerprint=zlib.crc32(visible, zlib.crc32(from_line)),
        date=parse_date(from_line),
        vsize=crlf_size(visible + (b"\n" if body_off > hdr_end else b""))
        + crlf_size(data[body_off:end_off], 0x0A))


def _scan_header(header: bytes, at: int) -> dict:
    out: dict = {"length": None, "meta_off": -1, "meta_len": 0, "uid": 0, "status": b"",
                 "xstatus": b"", "keywords": b"", "base": None, "base_off": -1}
    pos = at
    runs: list[list] = []  # [start, end, has X-Keywords] of contiguous Status/X-Status/X-Keywords
    for line in header_lines(header):
        name = field_name(line)
        value = line.split(b":", 1)[1].strip() if b":" in line else b""
        if name in _BLOCK:
            if runs and runs[-1][1] == pos:
                runs[-1][1] = pos + len(line)
            else:
                runs.append([pos, pos + len(line), False])
            runs[-1][2] = runs[-1][2] or name == b"x-keywords"
        if name == b"status":
            out["status"] = value
        elif name == b"x-status":
            out["xstatus"] = value
        elif name == b"x-keywords":
            out["keywords"] = value
        elif name == b"x-uid" and value.isdigit():
            out["uid"] = int(value)
        elif name == b"content-length" and value.isdigit():
            out["length"] = int(value)
        elif name == b"x-imapbase":
            fields = value.split()
            if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
                words = tuple(k.decode("utf-8", "replace") for k in fields[2:])
                out["base"] = (int(fields[0]), int(fields[1]) + 1, words)  # it holds UIDNEXT - 1
                if len(fields[1]) == 10:
                    out["base_off"] = pos + line.index(fields[1], len(b"X-IMAPbase:"))
        pos += len(line)
    if runs:
        start, end, _ = next((r for r in runs if r[2]), runs[0])
        out["meta_off"], out["meta_len"] = start, end - start
    return out


def read_base(fd: int, limit: int = 1 << 20) -> tuple[int, int, tuple[str, ...]] | None:
    """X-IMAPbase of the file's first message, read from the file (not from any index).

    A parse of only the new tail needs the keywords the file declares, which are
    those a full parse would honour: the index may be behind the file after a kill.
    """
    import os

    data = os.pread(fd, 1 << 16, 0)
    if not is_mbox_start(data):
        return None
    if data.find(b"\n\n") < 0:  # a header longer than 64 kB
        data = os.pread(fd, limit, 0)
    hdr_off = data.find(b"\n") + 1
    blank = data.find(b"\n\n", hdr_off - 1)
    header = data[hdr_off:len(data) if blank < 0 else blank + 1]
    return _scan_header(header, hdr_off)["base"] if hdr_off > 0 else None


# --- writing -----------------------------------------------------------------------


def meta_block(flags: Iterable[str], length: int | None = None, recent: bool = False,
               base: bytes = b"", uid: int = 0) -> bytes:
    """[X-IMAPbase,] [X-UID,] Status, X-Status, X-Keywords; padded to ``length`` bytes if given.

    Raises ValueError when the flags do not fit in ``length``.
    """
    flags = set(flags)
    status = ("R" if "\\Seen" in flags else "") + ("" if recent else "O")
    xstatus = "".join(letter for flag, letter in _XSTATUS.items() if flag in flags)
    keywords = " ".join(sorted(f for f in flags if not f.startswith("\\")))
    head = f"Status: {status}\n" + (f"X-Status: {xstatus}\n" if xstatus else "")
    line = f"X-Keywords: {keywords}".rstrip() if keywords else "X-Keywords:"
    text = base + (f"X-UID: {uid}\n" if uid else "").encode() + (head + line).encode("utf-8")
    if length is None:
        return text + b" " * PADDING + b"\n"
    room = length - len(text) - 1
    if room < 0:
        raise ValueError("flags do not fit the reserved space")
    return text + b" " * room + b"\n"


def from_line(date_ns: int | None, sender: str = "MAILER-DAEMON") -> bytes:
    stamp = time.time() if date_ns is None else date_ns / 1e9
    return f"From {sender}  {time.strftime('%a %b %e %H:%M:%S %Y', time.gmtime(stamp))}\n".encode()


def imapbase(uidvalidity: int, uidnext: int, keywords: Iterable[str]) -> bytes:
    """UW imapd's field: UIDVALIDITY, the last UID given out (UIDNEXT - 1), keywords."""
    words = "".join(" " + k for k in keywords)
    return f"X-IMAPbase: {uidvalidity} {uidnext - 1:010d}{words}\n".encode()


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header ending in LF, body) of a message given with CRLF or LF; LF on the way out."""
    text = raw.replace(b"\r\n", b"\n")
    if text.startswith(b"\n"):
        return b"", text[1:]
    blank = text.find(b"\n\n")
    if blank < 0:
        return (text + b"\n" if text and not text.endswith(b"\n") else text), b""
    return text[:blank + 1], text[blank + 2:]


def escape_body(body: bytes) -> bytes:
    """``From `` at a line start becomes ``>From ``; the body ends with LF."""
    if body.startswith(b"From "):
        body = b">" + body
    body = body.replace(b"\nFrom ", b"\n>From ")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return body


def render(from_bytes: bytes, header: bytes, body: bytes, *, uid: int, flags: Iterable[str],
           base: bytes = b"", recent: bool = False) -> bytes:
    """One message as written: From line, header, our fields, empty line, body, separator."""
    visible = visible_header(header)
    return b"".join((from_bytes, visible, meta_block(flags, recent=recent, base=base, uid=uid),
                     f"Content-Length: {len(body)}\n\n".encode(), body, b"\n"))
