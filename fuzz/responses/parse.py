"""Whole responses: cut from the stream, told apart (tagged, untagged, continuation)."""

from __future__ import annotations

import re
from typing import Any

import attrs

from fuzz.responses import any as any_state
from fuzz.responses import list as list_mailboxes
from fuzz.responses import mailbox, search
from fuzz.responses.codes import maybe_code, resp_text
from fuzz.responses.cursor import DIGITS, TAG_CHAR, Cursor
from fuzz.responses.fetch import msg_att

_LITERAL_END = re.compile(rb"~?\{(\d+)\}\r\n\Z")


@attrs.frozen
class Response:
    """One parsed response.

    ``kind`` is "tagged", "untagged" or "continue". For untagged data ``name`` is
    the keyword (``EXISTS``, ``FETCH``, ``OK``...), ``number`` the leading number
    if any, and ``data`` the parsed payload (FETCH: a dict of attributes; SEARCH:
    a list of numbers; STATUS: (mailbox, dict); FLAGS: a list). Status responses
    carry ``code`` (upper-cased atom) and ``code_data`` (parsed where known).
    """

    kind: str
    raw: bytes
    tag: str | None = None
    name: str | None = None
    number: int | None = None
    data: Any = None
    code: str | None = None
    code_data: Any = None
    text: bytes = b""


def split_responses(stream: bytes) -> tuple[list[bytes], bytes]:
    """Cut a server byte stream into whole responses (literals inside); return the rest."""
    out: list[bytes] = []
    pos = 0
    start = 0
    while True:
        end = stream.find(b"\r\n", pos)
        if end < 0:
            return out, stream[start:]
        line_end = end + 2
        match = _LITERAL_END.search(stream, pos, line_end)
        if match and match.end() == line_end:
            size = int(match.group(1))
            if line_end + size > len(stream):
                return out, stream[start:]
            pos = line_end + size
            continue
        out.append(stream[start:line_end])
        pos = start = line_end


def parse_response(raw: bytes) -> Response:
    """Parse one whole response (as ``split_responses`` cut it) or raise."""
    c = Cursor(raw)
    if c.take(b"+"):
        if c.take(b" "):
            # resp-text or base64; the server sends resp-text
            code, code_data = maybe_code(c)
            text = c.text(allow_empty=True)
        else:
            code, code_data, text = None, None, b""
        c.crlf_end()
        return Response("continue", raw, code=code, code_data=code_data, text=text)
    if c.take(b"* "):
        return _untagged(c, raw)
    tag = c.run(TAG_CHAR)
    if not tag:
        raise c.fail("expected a tag, '*' or '+'")
    c.sp()
    status = c.atom().upper()
    if status not in (b"OK", b"NO", b"BAD"):
        raise c.fail("tagged response must be OK, NO or BAD")
    c.sp()
    code, code_data, text = resp_text(c)
    c.crlf_end()
    return Response("tagged", raw, tag=tag.decode(), name=status.decode(), code=code,
                    code_data=code_data, text=text)


def _untagged(c: Cursor, raw: bytes) -> Response:
    if c.peek() in DIGITS:
        number = c.number()
        c.sp()
        name = c.atom().upper()
        data: Any = None
        if name in (b"EXISTS", b"RECENT"):
            pass
        elif name == b"EXPUNGE":
            if number == 0:
                raise c.fail("EXPUNGE of message 0")
        elif name == b"FETCH":
            if number == 0:
                raise c.fail("FETCH of message 0")
            c.sp()
            data = msg_att(c)
        else:
            raise c.fail(f"unknown numbered response {name!r}")
        c.crlf_end()
        return Response("untagged", raw, name=name.decode(), number=number, data=data)
    name = c.atom().upper()
    code = code_data = None
    text = b""
    data = None
    if name in (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"):
        c.sp()
        code, code_data, text = resp_text(c)
    elif name in _UNTAGGED_DATA:
        data = _UNTAGGED_DATA[name](c)
    else:
        raise c.fail(f"unknown untagged response {name!r}")
    c.crlf_end()
    return Response("untagged", raw, name=name.decode(), data=data, code=code,
                    code_data=code_data, text=text)


# each family's module holds its untagged responses' parsers (name -> data)
_UNTAGGED_DATA = {**any_state.UNTAGGED, **mailbox.UNTAGGED, **list_mailboxes.UNTAGGED,
                  **search.UNTAGGED}
