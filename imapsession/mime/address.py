"""Address lists as Dovecot's message-address parser reads them (FILL_MISSING mode).

Broken input still yields addresses: a missing local part becomes
``MISSING_MAILBOX``, a missing domain ``MISSING_DOMAIN``, an unparsable
angle address gets domain ``SYNTAX_ERROR`` and a bad route
``INVALID_ROUTE``.  A group is a start marker (mailbox = group name, no
domain) followed by its members and an all-NIL end marker.
"""

from __future__ import annotations

import attrs

from .rfc822 import NUL_REPLACEMENT, Tokenizer


@attrs.frozen
class Address:
    name: bytes | None
    route: bytes | None
    mailbox: bytes | None
    domain: bytes | None


class _Pending:
    __slots__ = ("name", "route", "mailbox", "domain", "invalid")

    def __init__(self) -> None:
        self.name: bytes | None = None
        self.route: bytes | None = None
        self.mailbox: bytes | None = None
        self.domain: bytes | None = None
        self.invalid = False


class _Parser:
    def __init__(self, value: bytes):
        self.tok = Tokenizer(value, keep_comment=True, nul_replacement=NUL_REPLACEMENT)
        self.out: list[Address] = []
        self.addr = _Pending()
        self.str = bytearray()

    def add(self) -> None:
        a = self.addr
        self.out.append(Address(a.name, a.route, a.mailbox, a.domain))
        self.addr = _Pending()

    def add_fixed(self) -> None:
        if self.addr.mailbox is None:
            self.addr.mailbox = b"MISSING_MAILBOX"
            self.addr.invalid = True
        if not self.addr.domain:
            self.addr.domain = b"MISSING_DOMAIN"
            self.addr.invalid = True
        self.add()

    def nonstrict_dot_atom(self) -> int:
        tok, out = self.tok, self.str
        ret = -1
        while True:
            while tok.peek() == 0x2E:
                out.append(0x2E)
                tok.pos += 1
                if tok.pos == tok.end:
                    return 0
                ret = 1
            if tok.peek() == 0x40:
                break
            ret = tok.atom(out)
            if not (ret > 0 and tok.peek() == 0x2E):
                break
        return ret

    def local_part(self) -> int:
        del self.str[:]
        if self.tok.peek() == 0x22:
            ret = self.tok.quoted_string(self.str)
        else:
            ret = self.nonstrict_dot_atom()
        if ret < 0:
            return -1
        self.addr.mailbox = bytes(self.str)
        return ret

    def domain(self) -> int:
        del self.str[:]
        ret = self.tok.domain(self.str)
        if ret < 0:
            return -1
        self.addr.domain = bytes(self.str)
        return ret

    def domain_list(self) -> int:
        tok, out = self.tok, self.str
        del out[:]
        while True:
            if tok.pos >= tok.end:
                return 0
            if tok.peek() != 0x40:
                break
            if out:
                out.append(0x2C)
            out.append(0x40)
            ret = tok.domain(out)
            if ret <= 0:
                return ret
            while tok.skip_lwsp() > 0 and tok.peek() == 0x2C:
                tok.pos += 1
        self.addr.route = bytes(out)
        return 1

    def angle_addr(self) -> int:
        tok = self.tok
        tok.pos += 1
        if tok.skip_lwsp() <= 0:
            return -1
        if tok.peek() == 0x40:
            if self.domain_list() > 0 and tok.peek() == 0x3A:
                tok.pos += 1
            else:
                self.addr.route = b"INVALID_ROUTE"
                if tok.pos >= tok.end:
                    return -1
            if tok.skip_lwsp() <= 0:
                return -1
        if tok.peek() != 0x3E:
            if self.local_part() <= 0:
                return -1
            if tok.peek() == 0x40 and self.domain() <= 0:
                return -1
        if tok.peek() != 0x3E:
            return -1
        tok.pos += 1
        return tok.skip_lwsp()

    def name_addr(self) -> int:
        tok = self.tok
        del self.str[:]
        if tok.phrase(self.str) <= 0 or tok.peek() != 0x3C:
            return -1
        self.addr.name = bytes(self.str) or None
        if self.angle_addr() < 0:
            self.addr.domain = b"SYNTAX_ERROR"
            self.addr.invalid = True
        return 1 if tok.pos < tok.end else 0

    def addr_spec(self) -> int:
        tok = self.tok
        comment = tok.last_comment
        assert comment is not None
        del comment[:]
        quoted = tok.peek() == 0x22
        ret = self.local_part()
        if ret <= 0:
            self.addr.invalid = True
        ret2 = -2
        if ret != 0 and tok.pos < tok.end and tok.peek() == 0x40:
            ret2 = self.domain()
            if ret2 <= 0:
                ret = ret2
        if comment:
            self.addr.name = bytes(comment)
        elif ret2 == -2:
            self.str.append(0x20)
            before = len(self.str)
            tok.phrase(self.str)
            if len(self.str) != before:
                self.addr.mailbox = None
                self.addr.name = bytes(self.str)
            elif not quoted:
                self.addr.domain = b""
            self.addr.invalid = True
            ret = -1
        return ret

    def mailbox(self) -> int:
        start = self.tok.pos
        ret = self.name_addr()
        if ret < 0:
            self.tok.pos = start
            ret = self.addr_spec()
            a = self.addr
            if a.invalid and a.name is None and a.mailbox is not None and a.domain is None:
                a.name, a.mailbox = a.mailbox, None
        if ret < 0:
            self.addr.invalid = True
        self.add_fixed()
        return ret

    def group(self) -> int:
        tok = self.tok
        del self.str[:]
        if tok.phrase(self.str) <= 0 or tok.peek() != 0x3A:
            return -1
        tok.pos += 1
        ret = tok.skip_lwsp()
        self.addr.mailbox = bytes(self.str)
        self.add()
        if ret > 0 and tok.peek() != 0x3B:
            while True:
                self.mailbox()
                if tok.pos >= tok.end or tok.peek() != 0x2C:
                    break
                tok.pos += 1
                if tok.skip_lwsp() <= 0:
                    ret = -1
                    break
        if ret >= 0:
            if tok.pos >= tok.end or tok.peek() != 0x3B:
                ret = -1
            else:
                tok.pos += 1
                ret = tok.skip_lwsp()
        self.add()
        return 0 if ret == 0 else 1

    def address(self) -> int:
        start = self.tok.pos
        ret = self.group()
        if ret < 0:
            self.tok.pos = start
            # a failed group attempt may have left nothing behind but the cursor
            ret = self.mailbox()
        return ret

    def address_list(self) -> None:
        tok = self.tok
        while True:
            if self.address() == 0:
                break
            if tok.pos >= tok.end or tok.peek() != 0x2C:
                break
            tok.pos += 1
            ret = tok.skip_lwsp()
            if ret <= 0:
                if ret < 0:
                    self.add_fixed()
                break


def parse_addresses(value: bytes) -> list[Address]:
    """Every address (and group marker) in a header value."""
    parser = _Parser(value)
    if parser.tok.skip_lwsp() > 0:
        parser.address_list()
    return parser.out


def _maybe_escape(value: bytes, escape_dot: bool) -> bytes:
    from .rfc822 import is_atext

    if all(is_atext(c) or (not escape_dot and c == 0x2E) for c in value):
        return value
    escaped = bytearray()
    for c in value:
        if c in (0x22, 0x5C, 0x27):
            escaped.append(0x5C)
        escaped.append(c)
    return b'"' + bytes(escaped) + b'"'


def write_addresses(addresses: list[Address]) -> bytes:
    """The addresses as one header value, the way Dovecot normalises them for SEARCH."""
    out = bytearray()
    first = True
    in_group = False
    for a in addresses:
        if not first:
            out += b", "
        first = False
        if a.domain is None:
            if not in_group:
                if a.mailbox:
                    out += a.mailbox if b"=?" in a.mailbox else _maybe_escape(a.mailbox, True)
                else:
                    out += b'""'
                out += b": "
                first = True
            else:
                if out.endswith(b", "):
                    del out[-2:]
                elif out.endswith(b": "):
                    del out[-1:]
                out += b";"
            in_group = not in_group
            continue
        mailbox = a.mailbox or b""
        if a.name is not None:
            out += a.name if b"=?" in a.name else _maybe_escape(a.name, True)
        if a.route is not None or mailbox or a.domain:
            if a.name:
                out += b" "
            out += b"<"
            if a.route is not None:
                out += a.route + b":"
            out += _maybe_escape(mailbox, False) if mailbox else b'""'
            if a.domain:
                out += b"@" + a.domain
            out += b">"
    return bytes(out)
