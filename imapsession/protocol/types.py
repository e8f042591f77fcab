"""Small protocol values: sequence sets, sections and dates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import attrs

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.upper(): index + 1 for index, name in enumerate(MONTHS)}
MAX_NUMBER = 2**32 - 1  # nz-number and uniqueid are 32-bit (RFC 3501 section 9)


# --- sequence sets -----------------------------------------------------------------


@attrs.frozen
class SequenceSet:
    """A sequence-set as sent: ranges in any order, ``None`` standing for ``*``.

    Ranges keep the order and orientation the client used so that the value
    serialises back to what was parsed; resolution happens against a mailbox.
    """

    ranges: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        ranges = []
        for item in text.split(","):
            low, sep, high = item.partition(":")
            first = _seq_number(low)
            ranges.append((first, _seq_number(high) if sep else first))
        return cls(tuple(ranges))

    def to_wire(self) -> str:
        def one(value: int | None) -> str:
            return "*" if value is None else str(value)

        return ",".join(
            one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges
        )

    def bounds(self, star: int) -> Iterator[tuple[int, int]]:
        """Each range as (low, high) with ``*`` replaced by ``star``."""
        for a, b in self.ranges:
            low = star if a is None else a
            high = star if b is None else b
            yield (low, high) if low <= high else (high, low)

    def contains(self, value: int, star: int) -> bool:
        return any(low <= value <= high for low, high in self.bounds(star))

    def resolve(self, values: list[int] | range, star: int) -> list[int]:
        """The members of the sorted ``values`` that the set names, ascending."""
        import bisect

        chosen: set[int] = set()
        for low, high in self.bounds(star):
            start = bisect.bisect_left(values, low)
            stop = bisect.bisect_right(values, high)
            chosen.update(values[start:stop])
        return sorted(chosen)


def _seq_number(text: str) -> int | None:
    if text == "*":
        return None
    if not text.isdigit() or not text.isascii() or text[0] == "0":
        raise ValueError(f"bad sequence number {text!r}")
    value = int(text)
    if value > MAX_NUMBER:
        raise ValueError(f"sequence number {text} is too large")
    return value


# --- sections ----------------------------------------------------------------------


@attrs.frozen
class Section:
    """A BODY[...] section-spec: a part path and an optional text part.

    ``text`` is None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or
    "MIME"; ``fields`` holds the header names (upper-cased) for HEADER.FIELDS[.NOT].
    """

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def to_wire(self) -> str:
        pieces = [".".join(str(n) for n in self.part)] if self.part else []
        if self.text:
            pieces.append(self.text)
        spec = ".".join(pieces)
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


# --- dates -------------------------------------------------------------------------

_DATE_TIME = re.compile(
    r'^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$'
)


def parse_date_time(text: str) -> datetime:
    """RFC 3501 date-time ("dd-Mon-yyyy hh:mm:ss +zzzz", day may be space-padded)."""
    match = _DATE_TIME.match(text)
    if not match:
        raise ValueError(f"bad date-time {text!r}")
    day, mon, year, hh, mm, ss, sign, zh, zm = match.groups()
    month = _MONTH_NUMBER.get(mon.upper())
    if month is None:
        raise ValueError(f"bad month in {text!r}")
    offset = timedelta(hours=int(zh), minutes=int(zm))
    tz = timezone(-offset if sign == "-" else offset)
    return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)


def format_date_time(value: datetime) -> str:
    """The INTERNALDATE form, in the value's own zone."""
    offset = value.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{value.day:02d}-{MONTHS[value.month - 1]}-{value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def parse_date(text: str) -> date:
    """RFC 3501 date ("d-Mon-yyyy" or "dd-Mon-yyyy")."""
    day, _, rest = text.partition("-")
    mon, _, year = rest.partition("-")
    month = _MONTH_NUMBER.get(mon.upper())
    if not (day.isdigit() and 1 <= len(day) <= 2 and year.isdigit() and len(year) == 4) or not month:
        raise ValueError(f"bad date {text!r}")
    return date(int(year), month, int(day))
