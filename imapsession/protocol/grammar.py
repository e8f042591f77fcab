"""RFC 3501 command grammar: a framed command in, a ``Command`` or ``ParseError`` out.

Each command's argument shape (``Command.args``):

===================  ===========================================================
CAPABILITY NOOP      ()
LOGOUT CHECK CLOSE   ()
UNSELECT NAMESPACE   ()
EXPUNGE              () ; UID EXPUNGE: (SequenceSet,)
LOGIN                (user: bytes, password: bytes)
AUTHENTICATE         (mechanism: str, initial_response: bytes | None)
SELECT EXAMINE       (mailbox: str, ) ; CREATE DELETE SUBSCRIBE UNSUBSCRIBE too
RENAME               (old: str, new: str)
LIST LSUB            (reference: str, pattern: str)
STATUS               (mailbox: str, items: tuple[str, ...])
APPEND               (mailbox: str, flags: frozenset | None, date: datetime | None,
                      message: bytes | sink)
FETCH                (SequenceSet, items: tuple[FetchItem, ...])
STORE                (SequenceSet, mode: "set"|"add"|"remove", silent: bool,
                      flags: frozenset[str])
SEARCH               (charset: str | None, key: SearchKey)  # key is an AND node
COPY MOVE            (SequenceSet, mailbox: str)
ID                   (params: tuple[tuple[str, str | None], ...] | None)
ENABLE               (capabilities: tuple[str, ...])
IDLE                 ()
===================  ===========================================================

Mailbox names are returned as sent (modified UTF-7 text); handlers decode them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from imapsession.protocol.command import Command, FetchItem, SearchKey
from imapsession.protocol.framing import Frame
from imapsession.protocol.types import (
    Section,
    SequenceSet,
    parse_date,
    parse_date_time,
)

MAX_NESTING = 100
MAX_STRING_IN_LINE = 64 * 1024

_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x00, 0x21)) | {0x7F}
_ATOM_CHARS = frozenset(range(0x80)) - _ATOM_SPECIALS
_ASTRING_CHARS = _ATOM_CHARS | {ord("]")}
_TAG_CHARS = _ASTRING_CHARS - {ord("+")}
_LIST_CHARS = _ATOM_CHARS | {ord("%"), ord("*"), ord("]")}

SYSTEM_FLAGS = {"\\SEEN": "\\Seen", "\\ANSWERED": "\\Answered", "\\FLAGGED": "\\Flagged",
                "\\DELETED": "\\Deleted", "\\DRAFT": "\\Draft"}

FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE_FETCH = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "UID", "ENVELOPE", "BODYSTRUCTURE",
                 "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY", "MODSEQ"}
STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")  # RFC 3501 6.3.10

# search keys by the arguments they take
_SEARCH_NOARG = {"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT",
                 "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"}
_SEARCH_STRING = {"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"}
_SEARCH_DATE = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}
_SEARCH_NUMBER = {"LARGER", "SMALLER"}
_SEARCH_FLAG = {"KEYWORD", "UNKEYWORD"}


class ParseError(Exception):
    """A malformed command; ``tag`` is set when one could be read."""

    def __init__(self, text: str, tag: str | None = None):
        super().__init__(text)
        self.text = text
        self.tag = tag


class _Reader:
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

    def _run(self, allowed: frozenset[int] | set[int]) -> bytes:
        line = self.line
        start = self.pos
        while self.pos < len(line) and line[self.pos] in allowed:
            self.pos += 1
        return line[start:self.pos]

    def atom(self, what: str = "an atom") -> str:
        value = self._run(_ATOM_CHARS)
        if not value:
            raise ParseError(f"Expected {what}")
        return value.decode("ascii")

    def tag(self) -> str:
        value = self._run(_TAG_CHARS)
        if not value or self.peek() != 0x20:
            raise ParseError("Invalid tag")
        return value.decode("ascii")

    def number(self, what: str = "a number", nonzero: bool = False, bits: int = 32) -> int:
        value = self._run(frozenset(b"0123456789"))
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
        value = self._run(_ASTRING_CHARS)
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
            raw = self._run(_LIST_CHARS)
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
        raw = self._run(frozenset(b"0123456789:,*"))
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
            name = self._run(_ATOM_CHARS).decode("ascii")
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


# --- command table ---------------------------------------------------------------


def parse_command(frame: Frame) -> Command:
    """Parse one framed command. Raises ``ParseError`` (with ``tag`` when known)."""
    reader = _Reader(frame)
    tag = None
    try:
        tag = reader.tag()
        reader.sp()
        name = reader.atom("a command name").upper()
        uid = False
        if name == "UID":
            reader.sp()
            uid = True
            name = reader.atom("a command name").upper()
            if name not in _UID_COMMANDS:
                raise ParseError(f"Unknown UID command {name}")
        parser = _PARSERS.get(name)
        if parser is None:
            raise ParseError(f"Unknown command {name[:40]}")
        args = parser(reader, uid)
        reader.end()
        return Command(tag, name, args, uid)
    except ParseError as exc:
        exc.tag = tag
        raise


def _no_args(reader: _Reader, uid: bool) -> tuple:
    return ()


def _one_mailbox(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    return (reader.mailbox(),)


def _login(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    user = reader.astring("a user name")
    reader.sp()
    password = reader.astring("a password")
    return (user, password)


def _authenticate(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    mechanism = reader.atom("a SASL mechanism").upper()
    initial = None
    if reader.maybe(b" "):
        if reader.maybe(b"="):
            initial = b""
        else:
            initial = reader._run(frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="))
            if not initial:
                raise ParseError("Invalid SASL initial response")
    return (mechanism, initial)


def _rename(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    old = reader.mailbox()
    reader.sp()
    return (old, reader.mailbox())


def _list(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    reference = reader.astring("a reference name")
    reader.sp()
    try:
        ref = reference.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Reference name is not valid UTF-8") from None
    return (ref, reader.list_mailbox())


def _status(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    reader.open_paren()
    items = []
    while True:
        item = reader.atom("a status item").upper()
        if item not in STATUS_ITEMS:
            raise ParseError(f"Invalid status item {item}")
        items.append(item)
        if reader.maybe(b")"):
            break
        reader.sp()
    reader.depth -= 1
    return (mailbox, tuple(items))


def _append(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    flags = None
    date = None
    if reader.peek() == 0x28:
        flags = reader.flag_list()
        reader.sp()
    if reader.peek() == 0x22:
        date = reader.date_time()
        reader.sp()
    if reader.peek() != 0x7B:
        raise ParseError("Missing message literal")
    message = reader.literal(allow_spooled=True)
    return (mailbox, flags, date, message)


def _fetch(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    sequence = reader.sequence_set()
    reader.sp()
    items: list[FetchItem] = []
    if reader.peek() == 0x28:
        reader.open_paren()
        while True:
            items.append(_fetch_att(reader))
            if reader.maybe(b")"):
                break
            reader.sp()
        reader.depth -= 1
    else:
        macro_start = reader.pos
        word = reader._run(_ATOM_CHARS).upper().decode("ascii")
        if word in FETCH_MACROS:
            items.extend(FetchItem(name) for name in FETCH_MACROS[word])
        else:
            reader.pos = macro_start
            items.append(_fetch_att(reader))
    if reader.maybe(b" "):  # RFC 4466 fetch modifiers, e.g. (CHANGEDSINCE n)
        raise ParseError("FETCH modifiers are not supported")
    return (sequence, tuple(items))


def _fetch_att(reader: _Reader) -> FetchItem:
    start = reader.pos
    word = bytearray()
    line = reader.line
    while reader.pos < len(line) and line[reader.pos] in _ATOM_CHARS and line[reader.pos] != 0x5B:
        word.append(line[reader.pos])
        reader.pos += 1
    name = word.decode("ascii").upper()
    if reader.peek() == 0x5B:  # "["
        peek = name.endswith(".PEEK")
        base = name[:-5] if peek else name
        if base not in ("BODY", "BINARY", "BINARY.SIZE"):
            raise ParseError(f"Invalid fetch attribute {name}")
        if base == "BINARY.SIZE" and peek:
            raise ParseError("Invalid fetch attribute BINARY.SIZE.PEEK")
        reader.pos += 1
        section = _section(reader, binary=base != "BODY")
        reader.expect(b"]", "']'")
        partial = None
        if reader.maybe(b"<"):
            if base == "BINARY.SIZE":
                raise ParseError("BINARY.SIZE takes no partial")
            origin = reader.number("a partial origin")
            reader.expect(b".", "'.' in the partial")
            # RFC 3501 says nz-number; Dovecot accepts 0 and answers an empty string
            length = reader.number("a partial length")
            reader.expect(b">", "'>'")
            partial = (origin, length)
        return FetchItem(base + "[]", section, partial, peek)
    if name not in _SIMPLE_FETCH:
        reader.pos = start
        raise ParseError(f"Invalid fetch attribute {name[:40] or 'in FETCH'}")
    return FetchItem(name)


def _section(reader: _Reader, binary: bool) -> Section:
    parts: list[int] = []
    while reader.peek() is not None and 0x30 <= reader.peek() <= 0x39:
        parts.append(reader.number("a section part", nonzero=True))
        if not reader.maybe(b"."):
            return Section(tuple(parts))
        if reader.peek() is not None and not (0x30 <= reader.peek() <= 0x39):
            break
    if binary:
        if reader.peek() != 0x5D:
            raise ParseError("BINARY takes only a part number")
        return Section(tuple(parts))
    if reader.peek() == 0x5D:
        if parts:
            raise ParseError("Invalid section")
        return Section()
    text = reader.atom("a section name").upper()
    if text == "MIME":
        if not parts:
            raise ParseError("MIME needs a part number")
        return Section(tuple(parts), "MIME")
    if text in ("HEADER", "TEXT"):
        return Section(tuple(parts), text)
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        reader.sp()
        reader.open_paren()
        fields = []
        while True:
            field = reader.astring("a header field name")
            try:
                fields.append(field.decode("ascii").upper())
            except UnicodeDecodeError:
                raise ParseError("Invalid header field name") from None
            if reader.maybe(b")"):
                break
            reader.sp()
        reader.depth -= 1
        return Section(tuple(parts), text, tuple(fields))
    raise ParseError(f"Invalid section {text[:40]}")


def _store(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    sequence = reader.sequence_set()
    reader.sp()
    item = reader.atom("a STORE item").upper()
    silent = item.endswith(".SILENT")
    base = item[:-7] if silent else item
    modes = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}
    if base not in modes:
        raise ParseError(f"Invalid STORE data item {item[:40]}")
    reader.sp()
    return (sequence, modes[base], silent, reader.flags_bare_or_list())


def _copy(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    sequence = reader.sequence_set()
    reader.sp()
    return (sequence, reader.mailbox())


def _expunge(reader: _Reader, uid: bool) -> tuple:
    if not uid:
        return ()
    reader.sp()
    return (reader.sequence_set(),)


def _search(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    charset = None
    if reader.maybe_ci(b"CHARSET "):
        charset = reader.text_string("a charset").upper()
        reader.sp()
    keys = [_search_key(reader, charset)]
    while reader.maybe(b" "):
        keys.append(_search_key(reader, charset))
    return (charset, SearchKey("AND", tuple(keys)))


def _search_string(reader: _Reader, charset: str | None) -> str:
    raw = reader.astring("a search string")
    try:
        return raw.decode("utf-8" if charset != "US-ASCII" else "ascii")
    except UnicodeDecodeError:
        # invalid UTF-8 cannot match anything readable; keep it comparable
        return raw.decode("utf-8", "replace")


def _search_key(reader: _Reader, charset: str | None) -> SearchKey:
    octet = reader.peek()
    if octet == 0x28:
        reader.open_paren()
        keys = [_search_key(reader, charset)]
        while reader.maybe(b" "):
            keys.append(_search_key(reader, charset))
        reader.close_paren()
        return SearchKey("AND", tuple(keys))
    if octet is not None and (0x30 <= octet <= 0x39 or octet == 0x2A):
        return SearchKey("SEQSET", (reader.sequence_set(),))
    word = reader.atom("a search key").upper()
    if word in _SEARCH_NOARG:
        return SearchKey(word)
    reader.sp()
    if word in _SEARCH_STRING:
        return SearchKey(word, (_search_string(reader, charset),))
    if word in _SEARCH_DATE:
        return SearchKey(word, (reader.date(),))
    if word in _SEARCH_NUMBER:
        return SearchKey(word, (reader.number("a size", bits=63),))
    if word in _SEARCH_FLAG:
        return SearchKey(word, (reader.flag(),))
    if word == "HEADER":
        field = reader.text_string("a header field name")
        reader.sp()
        return SearchKey(word, (field, _search_string(reader, charset)))
    if word == "UID":
        return SearchKey(word, (reader.sequence_set(),))
    if word == "NOT":
        reader.depth += 1
        if reader.depth > MAX_NESTING:
            raise ParseError("Too deep nesting of search keys")
        key = _search_key(reader, charset)
        reader.depth -= 1
        return SearchKey(word, (key,))
    if word == "OR":
        reader.depth += 1
        if reader.depth > MAX_NESTING:
            raise ParseError("Too deep nesting of search keys")
        first = _search_key(reader, charset)
        reader.sp()
        second = _search_key(reader, charset)
        reader.depth -= 1
        return SearchKey(word, (first, second))
    raise ParseError(f"Unknown search key {word[:40]}")


def _id(reader: _Reader, uid: bool) -> tuple:
    reader.sp()
    if reader.maybe_ci(b"NIL"):
        return (None,)
    reader.open_paren()
    params = []
    if not reader.maybe(b")"):
        while True:
            key = reader.string()
            reader.sp()
            value = reader.nstring_or_nil()
            params.append((key.decode("utf-8", "replace"),
                           None if value is None else value.decode("utf-8", "replace")))
            if reader.maybe(b")"):
                break
            reader.sp()
    reader.depth -= 1
    if len(params) > 30:
        raise ParseError("Too many ID parameters")
    return (tuple(params),)


def _enable(reader: _Reader, uid: bool) -> tuple:
    caps = []
    while reader.maybe(b" "):
        caps.append(reader.atom("a capability").upper())
    if not caps:
        raise ParseError("ENABLE needs capabilities")
    return (tuple(caps),)


_PARSERS = {
    "CAPABILITY": _no_args, "NOOP": _no_args, "LOGOUT": _no_args, "CHECK": _no_args,
    "CLOSE": _no_args, "UNSELECT": _no_args, "NAMESPACE": _no_args, "IDLE": _no_args,
    "STARTTLS": _no_args,
    "LOGIN": _login, "AUTHENTICATE": _authenticate,
    "SELECT": _one_mailbox, "EXAMINE": _one_mailbox, "CREATE": _one_mailbox,
    "DELETE": _one_mailbox, "SUBSCRIBE": _one_mailbox, "UNSUBSCRIBE": _one_mailbox,
    "RENAME": _rename, "LIST": _list, "LSUB": _list, "STATUS": _status, "APPEND": _append,
    "FETCH": _fetch, "STORE": _store, "COPY": _copy, "MOVE": _copy, "EXPUNGE": _expunge,
    "SEARCH": _search, "ID": _id, "ENABLE": _enable,
}
_UID_COMMANDS = {"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE"}


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
