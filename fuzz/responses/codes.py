"""Response codes (resp-text-code): RFC 3501's, UIDPLUS's and RFC 5530's."""

from __future__ import annotations

from typing import Any

from fuzz.responses.any import capabilities
from fuzz.responses.cursor import TEXT_CHAR, Cursor


def resp_text(c: Cursor) -> tuple[str | None, Any, bytes]:
    code, code_data = maybe_code(c)
    text = c.text(allow_empty=False)
    return code, code_data, text


def maybe_code(c: Cursor) -> tuple[str | None, Any]:
    if not c.take(b"["):
        return None, None
    name = c.atom().upper()
    data: Any = None
    if name in (b"ALERT", b"PARSE", b"READ-ONLY", b"READ-WRITE", b"TRYCREATE"):
        pass
    elif name == b"BADCHARSET":
        if c.take(b" ("):
            data = [c.astring()]
            while c.take(b" "):
                data.append(c.astring())
            c.expect(b")")
    elif name == b"CAPABILITY":
        data = capabilities(c)
    elif name == b"PERMANENTFLAGS":
        c.sp()
        data = c.flag_list(perm=True)
    elif name in (b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"):
        c.sp()
        data = c.number(nonzero=True)
    elif name == b"APPENDUID":
        c.sp()
        validity = c.number(nonzero=True)
        c.sp()
        data = (validity, _uid_set(c))
    elif name == b"COPYUID":
        c.sp()
        validity = c.number(nonzero=True)
        c.sp()
        source = _uid_set(c)
        c.sp()
        target = _uid_set(c)
        if len(source) != len(target):
            raise c.fail("COPYUID source and target sets differ in size")
        data = (validity, source, target)
    else:
        if c.take(b" "):
            data = c.run(frozenset(TEXT_CHAR - {ord("]")}))
            if not data:
                raise c.fail("empty response code argument")
    c.expect(b"]")
    if c.peek() == 0x0D:
        raise c.fail("resp-text needs text after the response code")
    c.sp()
    return name.decode(), data


def _uid_set(c: Cursor) -> list[int]:
    uids: list[int] = []
    while True:
        low = c.number(nonzero=True)
        high = low
        if c.take(b":"):
            high = c.number(nonzero=True)
        step = 1 if high >= low else -1
        uids.extend(range(low, high + step, step))
        if not c.take(b","):
            return uids
