"""ENVELOPE and BODY/BODYSTRUCTURE, nested as deep as the message is."""

from __future__ import annotations

from typing import Any

from fuzz.responses.cursor import DIGITS, Cursor


def envelope(c: Cursor) -> tuple:
    c.expect(b"(")
    date = c.nstring()
    c.sp()
    subject = c.nstring()
    addresses = []
    for _ in range(6):
        c.sp()
        addresses.append(_address_list(c))
    c.sp()
    in_reply_to = c.nstring()
    c.sp()
    message_id = c.nstring()
    c.expect(b")")
    return (date, subject, *addresses, in_reply_to, message_id)


def _address_list(c: Cursor) -> list | None:
    if c.take(b"NIL"):
        return None
    c.expect(b"(")
    out = []
    while True:
        c.expect(b"(")
        fields = [c.nstring()]
        for _ in range(3):
            c.sp()
            fields.append(c.nstring())
        c.expect(b")")
        out.append(tuple(fields))
        if c.take(b")"):
            return out


_MAX_BODY_DEPTH = 200


def body_structure(c: Cursor, extended: bool, depth: int) -> Any:
    if depth > _MAX_BODY_DEPTH:
        raise c.fail("body structure nested too deeply")
    c.expect(b"(")
    if c.peek() == 0x28:  # body-type-mpart
        parts = []
        while c.peek() == 0x28:
            parts.append(body_structure(c, extended, depth + 1))
        c.sp()
        subtype = c.string()
        if extended and c.take(b" "):
            _body_fld_param(c)
            _body_ext_tail(c)
        c.expect(b")")
        return ("multipart", subtype, parts)
    media = c.string()
    c.sp()
    subtype = c.string()
    c.sp()
    _body_fld_param(c)  # params
    c.sp()
    c.nstring()  # id
    c.sp()
    c.nstring()  # description
    c.sp()
    c.string()  # encoding
    c.sp()
    octets = c.number(bits=63)
    if media.upper() == b"MESSAGE" and subtype.upper() == b"RFC822":
        c.sp()
        envelope(c)
        c.sp()
        body_structure(c, extended, depth + 1)
        c.sp()
        c.number(bits=63)
    elif media.upper() == b"TEXT":
        c.sp()
        c.number(bits=63)
    if extended and c.take(b" "):
        c.nstring()  # md5
        _body_ext_tail(c)
    c.expect(b")")
    return (media, subtype, octets)


def _body_fld_param(c: Cursor) -> None:
    if c.take(b"NIL"):
        return
    c.expect(b"(")
    while True:
        c.string()
        c.sp()
        c.string()
        if c.take(b")"):
            return
        c.sp()


def _body_ext_tail(c: Cursor) -> None:
    """body-fld-dsp, body-fld-lang, body-fld-loc, *body-extension."""
    if not c.take(b" "):
        return
    if not c.take(b"NIL"):
        c.expect(b"(")
        c.string()
        c.sp()
        _body_fld_param(c)
        c.expect(b")")
    if not c.take(b" "):
        return
    if c.peek() == 0x28:
        c.expect(b"(")
        c.string()
        while c.take(b" "):
            c.string()
        c.expect(b")")
    else:
        c.nstring()
    if not c.take(b" "):
        return
    c.nstring()
    while c.take(b" "):
        _body_extension(c, 0)


def _body_extension(c: Cursor, depth: int) -> None:
    if depth > _MAX_BODY_DEPTH:
        raise c.fail("body extension nested too deeply")
    if c.take(b"("):
        _body_extension(c, depth + 1)
        while c.take(b" "):
            _body_extension(c, depth + 1)
        c.expect(b")")
    elif c.peek() in DIGITS:
        c.number(bits=63)
    else:
        c.nstring()
