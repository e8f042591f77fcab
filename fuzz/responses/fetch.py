"""FETCH's msg-att: each attribute, body sections, partials and literal8."""

from __future__ import annotations

import re
from typing import Any

from fuzz.responses.body import body_structure, envelope
from fuzz.responses.cursor import ATOM_CHAR, DIGITS, Cursor

_DATE_TIME = re.compile(
    rb'"([ \d]\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} '
    rb'\d\d:\d\d:\d\d [+-]\d{4}"'
)


def msg_att(c: Cursor) -> dict[str, Any]:
    c.expect(b"(")
    atts: dict[str, Any] = {}
    while True:
        start = c.pos
        name = c.run(frozenset(ATOM_CHAR - {ord("[")})).upper()
        value: Any
        if name == b"FLAGS":
            c.sp()
            value = c.flag_list(fetch=True)
        elif name == b"UID":
            c.sp()
            value = c.number(nonzero=True)
        elif name == b"RFC822.SIZE":
            c.sp()
            value = c.number(bits=63)
        elif name == b"MODSEQ":
            c.sp()
            c.expect(b"(")
            value = c.number(nonzero=True, bits=63)
            c.expect(b")")
        elif name == b"INTERNALDATE":
            c.sp()
            match = _DATE_TIME.match(c.raw, c.pos)
            if not match:
                raise c.fail("bad INTERNALDATE date-time")
            c.pos = match.end()
            value = match.group(0)
        elif name in (b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"):
            c.sp()
            value = c.nstring()
        elif name == b"ENVELOPE":
            c.sp()
            value = envelope(c)
        elif name in (b"BODY", b"BODYSTRUCTURE") and c.peek() == 0x20:
            c.sp()
            value = body_structure(c, extended=name == b"BODYSTRUCTURE", depth=0)
        elif name in (b"BODY", b"BINARY", b"BINARY.SIZE") and c.peek() == 0x5B:
            name += _section(c, binary=name != b"BODY")
            if name.startswith(b"BINARY.SIZE"):
                c.sp()
                value = c.number(bits=63)
            else:
                if c.take(b"<"):
                    name += b"<%d>" % c.number()
                    c.expect(b">")
                c.sp()
                if name.startswith(b"BINARY") and c.peek() == 0x7E:
                    value = c.literal(allow8=True)
                else:
                    value = c.nstring()
        else:
            c.pos = start
            raise c.fail(f"unknown FETCH attribute {name!r}")
        key = name.decode()
        if key in atts and ("[" not in key or atts[key] != value):
            # a section asked twice is answered twice (as Dovecot does), the same each time
            raise c.fail(f"FETCH attribute {key} twice")
        atts[key] = value
        if c.take(b")"):
            return atts
        c.sp()


def _section(c: Cursor, binary: bool) -> bytes:
    start = c.pos
    c.expect(b"[")
    parts = 0
    while c.peek() in DIGITS:
        c.number(nonzero=True)
        parts += 1
        if not c.take(b"."):
            break
    if c.peek() != 0x5D and not binary:
        if parts and c.raw[c.pos - 1] != 0x2E:
            raise c.fail("section part without '.'")
        word = c.atom().upper()
        if word in (b"HEADER.FIELDS", b"HEADER.FIELDS.NOT"):
            c.sp()
            c.expect(b"(")
            c.astring()
            while c.take(b" "):
                c.astring()
            c.expect(b")")
        elif word not in (b"HEADER", b"TEXT") and not (word == b"MIME" and parts):
            raise c.fail(f"bad section text {word!r}")
    elif c.raw[c.pos - 1] == 0x2E:
        raise c.fail("section ends in '.'")
    c.expect(b"]")
    return c.raw[start:c.pos].upper()
