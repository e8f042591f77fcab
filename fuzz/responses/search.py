"""SEARCH: the numbers found."""

from __future__ import annotations

from fuzz.responses.cursor import Cursor


def _search(c: Cursor) -> list[int]:
    data = []
    while c.take(b" "):
        data.append(c.number(nonzero=True))
    return data


UNTAGGED = {b"SEARCH": _search}
