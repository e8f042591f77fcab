"""LIST and LSUB (mailbox flags, delimiter, name) and NAMESPACE."""

from __future__ import annotations

from fuzz.responses.cursor import Cursor
from fuzz.responses.mailbox import mailbox_name

_MBX_FLAGS = {b"\\NOINFERIORS", b"\\NOSELECT", b"\\MARKED", b"\\UNMARKED", b"\\HASCHILDREN",
              b"\\HASNOCHILDREN", b"\\NONEXISTENT", b"\\SUBSCRIBED", b"\\REMOTE"}


def _mailbox_list(c: Cursor) -> tuple[list[str], bytes | None, bytes]:
    c.expect(b"(")
    flags: list[str] = []
    if not c.take(b")"):
        while True:
            c.expect(b"\\")
            flag = b"\\" + c.atom()
            if flag.upper() not in _MBX_FLAGS:
                raise c.fail(f"unknown mailbox flag {flag!r}")
            flags.append(flag.decode())
            if c.take(b")"):
                break
            c.sp()
    c.sp()
    if c.take(b"NIL"):
        delimiter = None
    else:
        delimiter = c.quoted()
        if len(delimiter) != 1:
            raise c.fail("hierarchy delimiter must be one character")
    c.sp()
    return flags, delimiter, mailbox_name(c)


def _namespace(c: Cursor) -> list | None:
    if c.take(b"NIL"):
        return None
    c.expect(b"(")
    out = []
    while c.take(b"("):
        prefix = c.string()
        c.sp()
        delimiter = None if c.take(b"NIL") else c.quoted()
        out.append((prefix, delimiter))
        c.expect(b")")
    if not out:
        raise c.fail("empty namespace list")
    c.expect(b")")
    return out


def _list(c: Cursor) -> tuple[list[str], bytes | None, bytes]:
    c.sp()
    return _mailbox_list(c)


def _namespaces(c: Cursor) -> list[list | None]:
    data = []
    for _ in range(3):
        c.sp()
        data.append(_namespace(c))
    return data


UNTAGGED = {b"LIST": _list, b"LSUB": _list, b"NAMESPACE": _namespaces}
