"""The shared reader: atoms, strings, literals, lists, sequence sets, flags and dates.

Every command family's parser reads its arguments through ``Reader``, a cursor
over a framed command; ``ParseError`` is the one way any of them fails. Each
error says what was expected where and names the token found there (through
``echo.shown``, never raw), except in a command whose arguments are secret
(LOGIN, AUTHENTICATE: ``Reader.secret``), where nothing the client sent is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from imapsession.protocol.framing import Frame
from imapsession.protocol.grammar.echo import shown, token_at
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
    """A malformed command; ``tag`` and ``command`` are set when they could be read.

    ``command`` is the name as the answer shows it (``UID FETCH``), ``name`` the
    command table's key (``FETCH``), so the session can check the state first.
    ``lone_word``: the line was one word, read as a tag with no command.
    """

    def __init__(self, text: str, tag: str | None = None, lone_word: bool = False):
        super().__init__(text)
        self.text = text
        self.tag = tag
        self.command: str | None = None
        self.name: str | None = None
        self.lone_word = lone_word


class Reader:
    """A cursor over a framed command: line segments with literals between them."""

    def __init__(self, frame: Frame):
        self.segments = frame.segments
        self.literals = frame.literals
        self.index = 0
        self.pos = 0
        self.depth = 0
        self.secret = False  # LOGIN, AUTHENTICATE: never show the client's bytes back

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

    # --- errors that say where ----------------------------------------------------

    def quote(self, raw: bytes | str) -> str:
        """A client's token for an error text (``(not shown)`` in a secret command)."""
        return "(not shown)" if self.secret else shown(raw)

    def found(self) -> str:
        """What the cursor is at, for "Expected X, found Y"."""
        if self.at_line_end():
            return "a literal" if not self.at_end() else "the end of the command"
        if self.secret:
            return "(not shown)"
        return shown(token_at(self.line, self.pos))

    def found_after_space(self) -> str:
        """``found()``, skipping the space that separates what was read from what follows."""
        if self.peek() == 0x20:
            self.pos += 1
        return self.found()

    def missing_or_expected(self, what: str) -> ParseError:
        """``Missing what`` at the end of the command, else ``Expected what, found "..."``."""
        if self.at_end():
            return ParseError(f"Missing {what}")
        return ParseError(f"Expected {what}, found {self.found()}")

    def expect(self, octets: bytes, what: str) -> None:
        if not self.line.startswith(octets, self.pos):
            raise self.missing_or_expected(what)
        self.pos += len(octets)

    def sp(self, what: str) -> None:
        """The space before ``what`` (the argument that follows it)."""
        if self.peek() != 0x20:
            if self.at_end():
                raise ParseError(f"Missing {what}")
            raise ParseError(f"Expected a space before {what}, found {self.found()}")
        self.pos += 1

    def list_continues(self, what: str) -> bool:
        """After an item of a parenthesised list: False at ``)`` (read), True after a space."""
        if self.maybe(b")"):
            return False
        if self.at_end():
            raise ParseError("Missing ')'")
        self.sp(what)
        return True

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
                raise ParseError("Unexpected literal after the arguments")
            if self.secret:
                raise ParseError("Unexpected extra arguments (not shown)")
            raise ParseError(f"Unexpected {self.found_after_space()} after the arguments")

    def run(self, allowed: frozenset[int] | set[int]) -> bytes:
        line = self.line
        start = self.pos
        while self.pos < len(line) and line[self.pos] in allowed:
            self.pos += 1
        return line[start:self.pos]

    def atom(self, what: str) -> str:
        value = self.run(ATOM_CHARS)
        if not value:
            raise self.missing_or_expected(what)
        return value.decode("ascii")

    def tag(self) -> str:
        """The tag; a line that is one word (``noop`` typed by hand) is all tag, as Dovecot reads it."""
        value = self.run(_TAG_CHARS)
        if not value or (self.peek() != 0x20 and not self.at_end()):
            if not self.line and self.at_end():
                raise ParseError("Empty command line")
            token = self.line.split(b" ", 1)[0]
            raise ParseError(f"Invalid tag {shown(token)}" if token
                             else "Expected a tag, found a space")
        return value.decode("ascii")

    def number(self, what: str, nonzero: bool = False, bits: int = 32) -> int:
        value = self.run(frozenset(b"0123456789"))
        if not value:
            raise self.missing_or_expected(what)
        number = int(value)
        if number >= 2**bits or (nonzero and number == 0):
            raise ParseError(f"Invalid {what} {shown(value)}")
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
                    escaped = self.quote(line[self.pos - 1:self.pos + 1])
                    raise ParseError(f"Invalid escape {escaped} in a quoted string")
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
            raise ParseError(f"Invalid literal {self.found()}")
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

    def string(self, what: str, allow_spooled: bool = False) -> Any:
        octet = self.peek()
        if octet == 0x22:
            return self.quoted()
        if octet == 0x7B:
            return self.literal(allow_spooled)
        raise self.missing_or_expected(f"{what} (a quoted string or a literal)")

    def astring(self, what: str) -> bytes:
        octet = self.peek()
        if octet in (0x22, 0x7B):
            return self.string(what)
        value = self.run(_ASTRING_CHARS)
        if not value:
            raise self.missing_or_expected(what)
        return value

    def nstring_or_nil(self, what: str) -> bytes | None:
        if self.maybe_ci(b"NIL"):
            return None
        return self.string(f"{what} or NIL")

    def mailbox(self) -> str:
        raw = self.astring("mailbox name")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"Mailbox name {self.quote(raw)} is not valid UTF-8") from None
        return "INBOX" if text.upper() == "INBOX" else text

    def list_mailbox(self) -> str:
        octet = self.peek()
        if octet in (0x22, 0x7B):
            raw = self.string("mailbox pattern")
        else:
            raw = self.run(_LIST_CHARS)
            if not raw:
                raise self.missing_or_expected("mailbox pattern")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"Mailbox pattern {self.quote(raw)} is not valid UTF-8") from None

    def text_string(self, what: str) -> str:
        raw = self.astring(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"{what.capitalize()} {self.quote(raw)} is not valid UTF-8") from None

    # --- compound values ------------------------------------------------------------

    def sequence_set(self, what: str = "sequence set") -> SequenceSet:
        if self.at_end():
            raise ParseError(f"Missing {what}")
        token = token_at(self.line, self.pos)
        raw = self.run(frozenset(b"0123456789:,*"))
        try:
            if not raw:
                raise ValueError("expected a number or '*'")
            if raw != token:
                raise ValueError(f"expected numbers, ':', ',' or '*', found {self.found()}")
            return SequenceSet.parse(raw.decode("ascii"))
        except ValueError as exc:
            # "messageset": Dovecot's word, and the one the fuzzer's checks know
            raise ParseError(f"Invalid messageset {shown(token)} ({what}): {exc}") from None

    def open_paren(self, what: str = "'('") -> None:
        self.expect(b"(", what)
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
            raise ParseError(f"Invalid system flag {shown(chr(92) + name)}")
        return self.atom("flag")

    def flag_list(self) -> frozenset[str]:
        self.open_paren()
        flags = []
        if not self.maybe(b")"):
            while True:
                flags.append(self.flag())
                if not self.list_continues("flag"):
                    break
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
            value = self.quoted()
            return parse_date_time(value.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError(f"Invalid date-time {shown(value)} "
                             "(expected a real date as \"dd-Mon-yyyy hh:mm:ss +zzzz\")") from None

    def date(self):
        text = self.astring("date")
        try:
            return parse_date(text.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError(f"Invalid search date {shown(text)} (expected dd-Mon-yyyy)") from None


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
