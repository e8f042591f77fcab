"""The shared tokenizer: RFC 3501 section 9 character classes and a cursor over one response."""

from __future__ import annotations


class ResponseSyntaxError(AssertionError):
    """A server response that RFC 3501's grammar does not allow."""


# RFC 3501 section 9 character classes (CHAR is 7-bit, no NUL)
_CTL = set(range(0x00, 0x20)) | {0x7F}
_ATOM_SPECIALS = set(b'(){ %*"\\]') | _CTL
ATOM_CHAR = frozenset(set(range(0x01, 0x80)) - _ATOM_SPECIALS)
_ASTRING_CHAR = ATOM_CHAR | {ord("]")}
TAG_CHAR = _ASTRING_CHAR - {ord("+")}
TEXT_CHAR = frozenset(set(range(0x01, 0x80)) - {0x0D, 0x0A})
_LIST_CHAR = ATOM_CHAR | {ord("%"), ord("*"), ord("]")}
DIGITS = frozenset(b"0123456789")
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_SYSTEM_FLAGS = {b"\\ANSWERED", b"\\FLAGGED", b"\\DELETED", b"\\SEEN", b"\\DRAFT"}


class Cursor:
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
        value = self.run(ATOM_CHAR)
        if not value:
            raise self.fail("expected an atom")
        return value

    def number(self, nonzero: bool = False, bits: int = 32) -> int:
        value = self.run(DIGITS)
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
            elif octet in TEXT_CHAR:
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
        value = self.run(TEXT_CHAR)
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
