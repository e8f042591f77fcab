"""The shared reader: atoms, strings, literals, lists, sequence sets, flags and dates.

Every command family's parser reads its arguments through ``Reader``, a cursor
over a framed command; ``ParseError`` is the one way any of them fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from imapsession.protocol.framing import Frame
from imapsession.protocol.types import SequenceSet, parse_date, parse_date_time

MAX_NESTING = 100
MAX_STRING_IN_LINE = 64 * 1024

_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x00, 0x21)) | {0x7F}
ATOM_CHARS = frozenset(range(0x80)) - _ATOM_SPECIALS
_ASTRING_CHARS = ATOM_CHARS | {ord("]")}
_TAG_CHARS = _ASTRING_CHARS - {ord("+")}
_LIST_CHARS = ATOM_CHARS | {ord("%"), ord("*"), ord("]")}

SYSTEM_FLAGS = {"\\SEEN": "\\Seen", "\\ANSWERED": "\\Answered", "\\FLAGGED": "\\Flagged",
                "\\DELETED": "\\Deleted", "\\DRAFT": "\\Draft"}


class ParseError(Exception):
    """A malformed command; ``tag`` is set when one could be read."""

    def __init__(self, text: str, tag: str | None = None):
        super().__init__(text)
        self.text = text
        self.tag = tag


class Reader:
    """A cursor over a framed command: line segments with literals between them."""

    def __init__(self, frame: Frame):
        self.segments = frame.segments
        self.literals = frame.literals
        self.index = 0
        self.pos = 0
        self.depth = 0

    @property
    def line(self) -> bytes:
        return self.segments[self.index]

    def peek(self) -> int | None:
        line = self.line
        return line[self.pos] if self.pos < len(line) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.line) and self.index == len(self.segments) - 1

    def at_line_end(self) -> bool:
        return self.pos >= len(self.line)

    def expect(self, octets: bytes, what: str | None = None) -> None:
        if not self.line.startswith(octets, self.pos):
            raise ParseError(f"Expected {what or repr(octets.decode())}")
        self.pos += len(octets)

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise ParseError("Expected a space" if not self.at_line_end() else "Missing arguments")
        self.pos += 1

    def maybe(self, octets: bytes) -> bool:
        if self.line.startswith(octets, self.pos):
            self.pos += len(octets)
            return True
        return False

    def maybe_ci(self, word: bytes) -> bool:
        end = self.pos + len(word)
        if self.line[self.pos:end].upper() == word:
            self.pos = end
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            if self.at_line_end():
                raise ParseError("Unexpected literal after the command")
            raise ParseError("Unexpected extra arguments")

    def run(self, allowed: frozenset[int] | set[int]) -> bytes:
        line = self.line
        start = self.pos
        while self.pos < len(line) and line[self.pos] in allowed:
            self.pos += 1
        return line[start:self.pos]

    def atom(self, what: str = "an atom") -> str:
        value = self.run(ATOM_CHARS)
        if not value:
            raise ParseError(f"Expected {what}")
        return value.decode("ascii")

    def tag(self) -> str:
        """The tag; a line that is one word (``noop`` typed by hand) is all tag, as Dovecot reads it."""
        value = self.run(_TAG_CHARS)
        if not value or (self.peek() != 0x20 and not self.at_end()):
            raise ParseError("Invalid tag")
        return value.decode("ascii")

    def number(self, what: str = "a number", nonzero: bool = False, bits: int = 32) -> int:
        value = self.run(frozenset(b"0123456789"))
        if not value:
            raise ParseError(f"Expected {what}")
        number = int(value)
        if number >= 2**bits or (nonzero and number == 0):
            raise ParseError(f"Invalid {what}")
        return number

    # --- strings ------------------------------------------------------------------

    def quoted(self) -> bytes:
        line = self.line
        self.pos += 1
        out = bytearray()
        while True:
            if self.pos >= len(line):
                raise ParseError("Missing '\"' at the end of a quoted string")
            octet = line[self.pos]
            self.pos += 1
            if octet == 0x22:
                return bytes(out)
            if octet == 0x5C:
                if self.pos >= len(line) or line[self.pos] not in (0x22, 0x5C):
                    raise ParseError("Invalid escape in a quoted string")
                out.append(line[self.pos])
                self.pos += 1
            elif octet == 0x00:
                raise ParseError("NUL in a quoted string")
            else:
                out.append(octet)

    def literal(self, allow_spooled: bool = False) -> Any:
        line = self.line
        close = line.find(b"}", self.pos)
        if close != len(line) - 1 or self.index + 1 >= len(self.segments):
            raise ParseError("Invalid literal")
        value = self.literals[self.index]
        self.index += 1
        self.pos = 0
        if not isinstance(value, bytes):
            if allow_spooled:
                return value
            raise ParseError("Literal too large here")
        if b"\x00" in value and not allow_spooled:
            raise ParseError("NUL in a literal string")
        return value

    def string(self, allow_spooled: bool = False) -> Any:
        octet = self.peek()
        if octet == 0x22:
            return self.quoted()
        if octet == 0x7B:
            return self.literal(allow_spooled)
        raise ParseError("Expected a string")

    def astring(self, what: str = "a string") -> bytes:
        octet = self.peek()
        if octet in (0x22, 0x7B):
            return self.string()
        value = self.run(_ASTRING_CHARS)
        if not value:
            raise ParseError(f"Expected {what}")
        return value

    def nstring_or_nil(self) -> bytes | None:
        if self.maybe_ci(b"NIL"):
            return None
        return self.string()

    def mailbox(self) -> str:
        raw = self.astring("a mailbox name")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Mailbox name is not valid UTF-8") from None
        return "INBOX" if text.upper() == "INBOX" else text

    def list_mailbox(self) -> str:
        octet = self.peek()
        if octet in (0x22, 0x7B):
            raw = self.string()
        else:
            raw = self.run(_LIST_CHARS)
            if not raw:
                raise ParseError("Expected a mailbox pattern")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Mailbox pattern is not valid UTF-8") from None

    def text_string(self, what: str) -> str:
        try:
            return self.astring(what).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"{what} is not valid UTF-8") from None

    # --- compound values ------------------------------------------------------------

    def sequence_set(self) -> SequenceSet:
        raw = self.run(frozenset(b"0123456789:,*"))
        if not raw:
            raise ParseError("Invalid messageset")
        try:
            return SequenceSet.parse(raw.decode("ascii"))
        except ValueError as exc:
            raise ParseError(f"Invalid messageset: {exc}") from None

    def open_paren(self) -> None:
        self.expect(b"(", "'('")
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ParseError("Too deep nesting of parentheses")

    def close_paren(self) -> None:
        self.expect(b")", "')'")
        self.depth -= 1

    def flag(self, allow_recent: bool = False) -> str:
        if self.maybe(b"\\"):
            name = self.run(ATOM_CHARS).decode("ascii")
            upper = "\\" + name.upper()
            if upper in SYSTEM_FLAGS:
                return SYSTEM_FLAGS[upper]
            if upper == "\\RECENT" and allow_recent:
                return "\\Recent"
            raise ParseError(f"Invalid system flag \\{name}")
        return self.atom("a flag")

    def flag_list(self) -> frozenset[str]:
        self.open_paren()
        flags = []
        if not self.maybe(b")"):
            while True:
                flags.append(self.flag())
                if self.maybe(b")"):
                    break
                self.sp()
        else:
            self.depth -= 1
            return frozenset()
        self.depth -= 1
        return frozenset(flags)

    def flags_bare_or_list(self) -> frozenset[str]:
        if self.peek() == 0x28:
            return self.flag_list()
        flags = [self.flag()]
        while self.maybe(b" "):
            flags.append(self.flag())
        return frozenset(flags)

    def date_time(self) -> datetime:
        try:
            return parse_date_time(self.quoted().decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError("Invalid date-time") from None

    def date(self):
        text = self.astring("a date")
        try:
            return parse_date(text.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError("Invalid search date parameter") from None


def tag_of(head: bytes) -> str | None:
    """The tag at the start of a raw line, if it looks like one (for error answers)."""
    tag = bytearray()
    for octet in head:
        if octet == 0x20:
            return tag.decode("ascii") if tag else None
        if octet not in _TAG_CHARS:
            return None
        tag.append(octet)
    return None
