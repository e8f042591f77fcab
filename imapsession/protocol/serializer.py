"""Turning values into IMAP wire bytes: one place decides quoted versus literal."""

from __future__ import annotations

from collections.abc import Iterable

_MAX_ESCAPES_IN_QUOTED = 4


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def literal(value: bytes | str) -> bytes:
    """A synchronising literal as the server sends it: {n}CRLF followed by the octets."""
    data = _as_bytes(value)
    return b"{%d}\r\n" % len(data) + data


def string(value: bytes | str) -> bytes:
    """A quoted string when that is safe, otherwise a literal.

    Quoting is unsafe for CR, LF, NUL and 8-bit octets; a string with many
    quote or backslash characters goes as a literal too (as Dovecot does),
    which keeps ENVELOPE output byte-identical to the reference server.
    """
    data = _as_bytes(value)
    escapes = 0
    for octet in data:
        if octet in (0x22, 0x5C):
            escapes += 1
            if escapes > _MAX_ESCAPES_IN_QUOTED:
                return literal(data)
        elif octet >= 0x80 or octet in (0x0D, 0x0A, 0x00):
            return literal(data)
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def nstring(value: bytes | str | None) -> bytes:
    """NIL or a string."""
    return b"NIL" if value is None else string(value)


def astring(value: bytes | str) -> bytes:
    """An atom when the value is a safe, non-empty atom, else a string."""
    data = _as_bytes(value)
    if data and all(octet in _ASTRING_CHARS for octet in data) and data.upper() != b"NIL":
        return data
    return string(data)


def plist(items: Iterable[bytes]) -> bytes:
    """A parenthesised, space-separated list of already-serialised items."""
    return b"(" + b" ".join(items) + b")"


def number(value: int) -> bytes:
    return b"%d" % value


# ATOM-CHAR minus atom-specials, plus "]" which astring allows (RFC 3501 section 9).
_ASTRING_CHARS = frozenset(
    c for c in range(0x21, 0x7F) if chr(c) not in '(){ %*"\\'
)
