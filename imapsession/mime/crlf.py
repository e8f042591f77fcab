"""The wire form of a stored message: CRLF line ends, as Dovecot sends it."""

from __future__ import annotations


def to_crlf(raw: bytes) -> bytes:
    """Every LF not already preceded by CR becomes CRLF; a bare CR stays as it is.

    This is what Dovecot's CRLF stream does (checked against 2.3.19 with
    LF-only, mixed and bare-CR messages): sizes and offsets elsewhere count
    these octets.
    """
    lf = raw.count(b"\n")
    if lf == 0 or lf == raw.count(b"\r\n"):
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
