"""Untagged data of any state: CAPABILITY, ID and ENABLED."""

from __future__ import annotations

from fuzz.responses.cursor import Cursor


def capabilities(c: Cursor) -> list[str]:
    caps = []
    while c.take(b" "):
        caps.append(c.atom().decode())
    if "IMAP4rev1" not in caps:
        raise c.fail("capability list without IMAP4rev1")
    return caps


def _id_params(c: Cursor) -> list[tuple[bytes, bytes | None]] | None:
    if c.take(b"NIL"):
        return None
    c.expect(b"(")
    params = []
    while True:
        key = c.string()
        c.sp()
        params.append((key, c.nstring()))
        if c.take(b")"):
            return params
        c.sp()


def _id(c: Cursor) -> list[tuple[bytes, bytes | None]] | None:
    c.sp()
    return _id_params(c)


def _enabled(c: Cursor) -> list[str]:
    data = []
    while c.take(b" "):
        data.append(c.atom().decode())
    return data


UNTAGGED = {b"CAPABILITY": capabilities, b"ID": _id, b"ENABLED": _enabled}
