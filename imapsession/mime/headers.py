"""Header fields as Dovecot's message-header-parser splits them.

A field is a line up to LF plus the following lines that start with SP or
TAB; its name is what precedes the first ':' (trailing blanks dropped), and
its value follows the ':' with the leading blanks dropped (only one when
the value is all blanks), as with Dovecot's SKIP_INITIAL_LWSP flag, which
its index code uses for ENVELOPE and BODYSTRUCTURE.  Continuation
lines keep their newline inside the value (Dovecot's "full value").  A line
without ':' is a field with an empty name.
"""

from __future__ import annotations

from collections.abc import Iterator

_NAME_MAX = 1000


def split_line(line: bytes) -> tuple[bytes, bytes]:
    """(name, value) of one header line without its newline."""
    colon = line.find(b":")
    if colon < 0:
        return b"", line
    value = line[colon + 1 :]
    stripped = value.lstrip(b" \t")
    if stripped:
        value = stripped
    elif value:
        value = value[1:]
    name = line[:colon].rstrip(b" \t")
    if len(name) > _NAME_MAX:
        return b"", line
    return name, value


def _strip_newline(line: bytes) -> tuple[bytes, bytes]:
    if line.endswith(b"\r\n"):
        return line[:-2], b"\r\n"
    if line.endswith(b"\n"):
        return line[:-1], b"\n"
    return line, b""


def iter_fields(header: bytes) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(name, full value, start, end) for each field of a header block.

    ``start``/``end`` delimit the field's raw octets (newline included).
    The blank line ending the header, if present, is not a field.
    """
    pos = 0
    size = len(header)
    name = value = prev_newline = b""
    start = -1
    while pos < size:
        lf = header.find(b"\n", pos)
        end = size if lf < 0 else lf + 1
        line, newline = _strip_newline(header[pos:end])
        if start >= 0 and header[pos : pos + 1] in (b" ", b"\t"):
            value += prev_newline + line
            prev_newline = newline
            pos = end
            continue
        if start >= 0:
            yield name, value, start, pos
            start = -1
        if not line and newline:
            return
        name, value = split_line(line)
        prev_newline = newline
        start = pos
        pos = end
    if start >= 0:
        yield name, value, start, pos


def first_value(header: bytes, wanted: bytes) -> bytes | None:
    """The full value of the first field named ``wanted`` (case-insensitive)."""
    wanted = wanted.lower()
    for name, value, _s, _e in iter_fields(header):
        if name.lower() == wanted:
            return value
    return None
