"""RFC822.SIZE and INTERNALDATE as both backends compute and keep them.

Sizes count every line ending as CRLF, whatever the file holds; the index keeps
internal dates as nanoseconds since the epoch, shown in the local time zone.
"""

from __future__ import annotations

from datetime import datetime, timezone


def crlf_size(data: bytes, previous: int = -1) -> int:
    """Octets once every bare LF is CRLF; ``previous`` is the byte before ``data``."""
    extra = data.count(b"\n") - data.count(b"\r\n")
    if data[:1] == b"\n" and previous == 0x0D:
        extra -= 1
    return len(data) + extra


def datetime_from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).astimezone()
