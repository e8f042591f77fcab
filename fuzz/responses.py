"""An independent, strict parser of server responses, written from RFC 3501 section 9.

It shares no code with the server's serializer on purpose: a line the server
writes is only trusted if this parser, built from the formal syntax (plus the
extensions the server advertises: UIDPLUS, ID, ENABLE, NAMESPACE, BINARY,
RFC 5530 codes), accepts it. Anything else raises ``ResponseSyntaxError`` naming
the offset, so a fuzz failure points at the octet that broke the grammar.
"""

from __future__ import annotations

import re
from typing import Any

import attrs


class ResponseSyntaxError(AssertionError):
    """A server response that RFC 3501's grammar does not allow."""


_LITERAL_END = re.compile(rb"~?\{(\d+)\}\r\n\Z")

# RFC 3501 section 9 character classes (CHAR is 7-bit, no NUL)
_CTL = set(range(0x00, 0x20)) | {0x7F}
_ATOM_SPECIALS = set(b'(){ %*"\\]') | _CTL
_ATOM_CHAR = frozenset(set(range(0x01, 0x80)) - _ATOM_SPECIALS)
_ASTRING_CHAR = _ATOM_CHAR | {ord("]")}
_TAG_CHAR = _ASTRING_CHAR - {ord("+")}
_TEXT_CHAR = frozenset(set(range(0x01, 0x80)) - {0x0D, 0x0A})
_LIST_CHAR = _ATOM_CHAR | {ord("%"), ord("*"), ord("]")}
_DIGITS = frozenset(b"0123456789")
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_DATE_TIME = re.compile(
    rb'"([ \d]\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} '
    rb'\d\d:\d\d:\d\d [+-]\d{4}"'
)
_STATUS_ATTS = {b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"HIGHESTMODSEQ"}
_SYSTEM_FLAGS = {b"\\ANSWERED", b"\\FLAGGED", b"\\DELETED", b"\\SEEN", b"\\DRAFT"}
_MBX_FLAGS = {b"\\NOINFERIORS", b"\\NOSELECT", b"\\MARKED", b"\\UNMARKED", b"\\HASCHILDREN",
              b"\\HASNOCHILDREN", b"\\NONEXISTENT", b"\\SUBSCRIBED", b"\\REMOTE"}


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


class _Cursor:
    def __init__(self, raw: bytes):
        self.raw = raw
        self.pos = 0

    def fail(self, what: str) -> ResponseSyntaxError:
        around = self.raw[max(0, self.pos - 30): self.pos + 30]
        return ResponseSyntaxError(f"{what} at offset {self.pos} near {around!r} in {self.raw[:300]!r}")

    def peek(self) -> int | None:
        return self.raw[self.pos] if self.pos < len(self.raw) else None

    def take(self, octets: bytes) -> bool:
        if self.raw.startswith(octets, self.pos):
            self.pos += len(octets)
            return True
        return False

    def take_ci(self, word: bytes) -> bool:
        end = self.pos + len(word)
        if self.raw[self.pos:end].upper() == word:
            self.pos = end
            return True
        return False

    def expect(self, octets: bytes) -> None:
        if not self.take(octets):
            raise self.fail(f"expected {octets!r}")

    def sp(self) -> None:
        self.expect(b" ")

    def run(self, allowed: frozenset[int]) -> bytes:
        start = self.pos
        while self.pos < len(self.raw) and self.raw[self.pos] in allowed:
            self.pos += 1
        return self.raw[start:self.pos]

    def atom(self) -> bytes:
        value = self.run(_ATOM_CHAR)
        if not value:
            raise self.fail("expected an atom")
        return value

    def number(self, nonzero: bool = False, bits: int = 32) -> int:
        value = self.run(_DIGITS)
        if not value:
            raise self.fail("expected a number")
        number = int(value)
        if number >= 2**bits:
            raise self.fail("number out of range")
        if nonzero and number == 0:
            raise self.fail("expected a non-zero number")
        return number

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            octet = self.peek()
            if octet is None:
                raise self.fail("unterminated quoted string")
            self.pos += 1
            if octet == 0x22:
                return bytes(out)
            if octet == 0x5C:
                nxt = self.peek()
                if nxt not in (0x22, 0x5C):
                    raise self.fail("bad escape in quoted string")
                out.append(nxt)
                self.pos += 1
            elif octet in _TEXT_CHAR:
                out.append(octet)
            else:
                self.pos -= 1
                raise self.fail(f"octet {octet:#x} not allowed in a quoted string")

    def literal(self, allow8: bool = False) -> bytes:
        binary = self.take(b"~")
        self.expect(b"{")
        size = self.number()
        self.expect(b"}\r\n")
        data = self.raw[self.pos:self.pos + size]
        if len(data) != size:
            raise self.fail("literal shorter than announced")
        if b"\x00" in data and not (binary and allow8):
            raise self.fail("NUL in a literal (only literal8 may hold it)")
        if binary and not allow8:
            raise self.fail("literal8 outside BINARY")
        self.pos += size
        return data

    def string(self) -> bytes:
        octet = self.peek()
        if octet == 0x22:
            return self.quoted()
        if octet in (0x7B,):
            return self.literal()
        raise self.fail("expected a string")

    def nstring(self) -> bytes | None:
        if self.take(b"NIL"):
            return None
        return self.string()

    def astring(self) -> bytes:
        if self.peek() in (0x22, 0x7B):
            return self.string()
        value = self.run(_ASTRING_CHAR)
        if not value:
            raise self.fail("expected an astring")
        return value

    def text(self, allow_empty: bool = False) -> bytes:
        value = self.run(_TEXT_CHAR)
        if not value and not allow_empty:
            raise self.fail("expected text")
        return value

    def crlf_end(self) -> None:
        self.expect(b"\r\n")
        if self.pos != len(self.raw):
            raise self.fail("data after CRLF")

    def flag(self, perm: bool = False, fetch: bool = False) -> str:
        if self.take(b"\\"):
            if perm and self.take(b"*"):
                return "\\*"
            name = b"\\" + self.atom()
            if name.upper() in _SYSTEM_FLAGS or (fetch and name.upper() == b"\\RECENT"):
                return name.decode()
            # flag-extension is allowed by the grammar, but this server defines none
            raise self.fail(f"unknown system flag {name!r}")
        return self.atom().decode()

    def flag_list(self, perm: bool = False, fetch: bool = False) -> list[str]:
        self.expect(b"(")
        flags: list[str] = []
        if self.take(b")"):
            return flags
        while True:
            flags.append(self.flag(perm, fetch))
            if self.take(b")"):
                return flags
            self.sp()


def parse_response(raw: bytes) -> Response:
    """Parse one whole response (as ``split_responses`` cut it) or raise."""
    c = _Cursor(raw)
    if c.take(b"+"):
        if c.take(b" "):
            # resp-text or base64; the server sends resp-text
            code, code_data = _maybe_code(c)
            text = c.text(allow_empty=True)
        else:
            code, code_data, text = None, None, b""
        c.crlf_end()
        return Response("continue", raw, code=code, code_data=code_data, text=text)
    if c.take(b"* "):
        return _untagged(c, raw)
    tag = c.run(_TAG_CHAR)
    if not tag:
        raise c.fail("expected a tag, '*' or '+'")
    c.sp()
    status = c.atom().upper()
    if status not in (b"OK", b"NO", b"BAD"):
        raise c.fail("tagged response must be OK, NO or BAD")
    c.sp()
    code, code_data, text = _resp_text(c)
    c.crlf_end()
    return Response("tagged", raw, tag=tag.decode(), name=status.decode(), code=code,
                    code_data=code_data, text=text)


def _resp_text(c: _Cursor) -> tuple[str | None, Any, bytes]:
    code, code_data = _maybe_code(c)
    text = c.text(allow_empty=False)
    return code, code_data, text


def _maybe_code(c: _Cursor) -> tuple[str | None, Any]:
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
        data = _capabilities(c)
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
            data = c.run(frozenset(_TEXT_CHAR - {ord("]")}))
            if not data:
                raise c.fail("empty response code argument")
    c.expect(b"]")
    if c.peek() == 0x0D:
        raise c.fail("resp-text needs text after the response code")
    c.sp()
    return name.decode(), data


def _uid_set(c: _Cursor) -> list[int]:
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


def _capabilities(c: _Cursor) -> list[str]:
    caps = []
    while c.take(b" "):
        caps.append(c.atom().decode())
    if "IMAP4rev1" not in caps:
        raise c.fail("capability list without IMAP4rev1")
    return caps


def _untagged(c: _Cursor, raw: bytes) -> Response:
    if c.peek() in _DIGITS:
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
            data = _msg_att(c)
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
        code, code_data, text = _resp_text(c)
    elif name == b"CAPABILITY":
        data = _capabilities(c)
    elif name == b"FLAGS":
        c.sp()
        data = c.flag_list()
    elif name in (b"LIST", b"LSUB"):
        c.sp()
        data = _mailbox_list(c)
    elif name == b"SEARCH":
        data = []
        while c.take(b" "):
            data.append(c.number(nonzero=True))
    elif name == b"STATUS":
        c.sp()
        mailbox = _mailbox(c)
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
        data = (mailbox, items)
    elif name == b"ID":
        c.sp()
        data = _id_params(c)
    elif name == b"ENABLED":
        data = []
        while c.take(b" "):
            data.append(c.atom().decode())
    elif name == b"NAMESPACE":
        data = []
        for _ in range(3):
            c.sp()
            data.append(_namespace(c))
    else:
        raise c.fail(f"unknown untagged response {name!r}")
    c.crlf_end()
    return Response("untagged", raw, name=name.decode(), data=data, code=code,
                    code_data=code_data, text=text)


def _mailbox(c: _Cursor) -> bytes:
    value = c.astring()
    if not value:
        return value
    try:
        value.decode("ascii")
    except UnicodeDecodeError:
        raise c.fail("8-bit mailbox name (must be modified UTF-7)") from None
    return value


def _mailbox_list(c: _Cursor) -> tuple[list[str], bytes | None, bytes]:
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
    return flags, delimiter, _mailbox(c)


def _id_params(c: _Cursor) -> list[tuple[bytes, bytes | None]] | None:
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


def _namespace(c: _Cursor) -> list | None:
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


def _msg_att(c: _Cursor) -> dict[str, Any]:
    c.expect(b"(")
    atts: dict[str, Any] = {}
    while True:
        start = c.pos
        name = c.run(frozenset(_ATOM_CHAR - {ord("[")})).upper()
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
            value = _envelope(c)
        elif name in (b"BODY", b"BODYSTRUCTURE") and c.peek() == 0x20:
            c.sp()
            value = _body(c, extended=name == b"BODYSTRUCTURE", depth=0)
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
        if key in atts:
            raise c.fail(f"FETCH attribute {key} twice")
        atts[key] = value
        if c.take(b")"):
            return atts
        c.sp()


def _section(c: _Cursor, binary: bool) -> bytes:
    start = c.pos
    c.expect(b"[")
    parts = 0
    while c.peek() in _DIGITS:
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


def _envelope(c: _Cursor) -> tuple:
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


def _address_list(c: _Cursor) -> list | None:
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


def _body(c: _Cursor, extended: bool, depth: int) -> Any:
    if depth > _MAX_BODY_DEPTH:
        raise c.fail("body structure nested too deeply")
    c.expect(b"(")
    if c.peek() == 0x28:  # body-type-mpart
        parts = []
        while c.peek() == 0x28:
            parts.append(_body(c, extended, depth + 1))
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
        _envelope(c)
        c.sp()
        _body(c, extended, depth + 1)
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


def _body_fld_param(c: _Cursor) -> None:
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


def _body_ext_tail(c: _Cursor) -> None:
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


def _body_extension(c: _Cursor, depth: int) -> None:
    if depth > _MAX_BODY_DEPTH:
        raise c.fail("body extension nested too deeply")
    if c.take(b"("):
        _body_extension(c, depth + 1)
        while c.take(b" "):
            _body_extension(c, depth + 1)
        c.expect(b")")
    elif c.peek() in _DIGITS:
        c.number(bits=63)
    else:
        c.nstring()
