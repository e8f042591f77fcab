"""Compact UID sets for UIDPLUS response codes (RFC 4315)."""

from __future__ import annotations

from collections.abc import Iterable


def compact(uids: Iterable[int]) -> str:
    """``1,2,3,5`` becomes ``1:3,5``; order is kept, as COPYUID pairs sets by position."""
    runs: list[list[int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1][1] = uid
        else:
            runs.append([uid, uid])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)
