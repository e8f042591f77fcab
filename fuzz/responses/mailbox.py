"""A mailbox's data: its name as the server writes it, FLAGS and STATUS."""

from __future__ import annotations

from fuzz.responses.cursor import Cursor

_STATUS_ATTS = {b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"HIGHESTMODSEQ"}


def mailbox_name(c: Cursor) -> bytes:
    value = c.astring()
    if not value:
        return value
    try:
        value.decode("ascii")
    except UnicodeDecodeError:
        raise c.fail("8-bit mailbox name (must be modified UTF-7)") from None
    return value


def _flags(c: Cursor) -> list[str]:
    c.sp()
    return c.flag_list()


def _status(c: Cursor) -> tuple[bytes, dict[str, int]]:
    c.sp()
    mailbox = mailbox_name(c)
    c.sp()
    c.expect(b"(")
    items: dict[str, int] = {}
    if not c.take(b")"):
        while True:
            att = c.atom().upper()
            if att not in _STATUS_ATTS:
                raise c.fail(f"unknown status attribute {att!r}")
            c.sp()
            items[att.decode()] = c.number(bits=63)
            if c.take(b")"):
                break
            c.sp()
    return (mailbox, items)


UNTAGGED = {b"FLAGS": _flags, b"STATUS": _status}
