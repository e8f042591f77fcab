"""FETCH: the macros, fetch attributes, body sections and partials."""

from __future__ import annotations

from imapsession.protocol.command import FetchItem
from imapsession.protocol.grammar.reader import ATOM_CHARS, ParseError, Reader
from imapsession.protocol.types import Section

FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
# the grammar's tables: every entry is something commands/fetch.py answers, and the
# fuzzer's strategies are drawn from these (tests/test_fuzz_grammar_tables.py)
FETCH_ATTRIBUTES = ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "UID", "ENVELOPE", "BODYSTRUCTURE",
                    "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODY")
SECTIONED_ATTRIBUTES = ("BODY", "BINARY", "BINARY.SIZE")  # take [section]; .PEEK but .SIZE
SECTION_TEXTS = ("HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "MIME")
# attributes of extensions not implemented yet: refused with what is missing
NOT_SUPPORTED = {"MODSEQ": "CONDSTORE"}


def _fetch(reader: Reader, uid: bool) -> tuple:
    reader.sp("sequence set")
    sequence = reader.sequence_set()
    reader.sp("fetch attributes")
    items: list[FetchItem] = []
    if reader.peek() == 0x28:
        reader.open_paren()
        while True:
            items.append(_fetch_att(reader))
            if not reader.list_continues("fetch attribute"):
                break
        reader.depth -= 1
    else:
        macro_start = reader.pos
        word = reader.run(ATOM_CHARS).upper().decode("ascii")
        if word in FETCH_MACROS:
            items.extend(FetchItem(name) for name in FETCH_MACROS[word])
        else:
            reader.pos = macro_start
            items.append(_fetch_att(reader))
    if reader.maybe(b" ("):  # RFC 4466 fetch modifiers, e.g. (CHANGEDSINCE n)
        raise ParseError("FETCH modifiers are not supported")
    return (sequence, tuple(items))


def _fetch_att(reader: Reader) -> FetchItem:
    start = reader.pos
    word = bytearray()
    line = reader.line
    while reader.pos < len(line) and line[reader.pos] in ATOM_CHARS and line[reader.pos] != 0x5B:
        word.append(line[reader.pos])
        reader.pos += 1
    name = word.decode("ascii").upper()
    if reader.peek() == 0x5B:  # "["
        peek = name.endswith(".PEEK")
        base = name[:-5] if peek else name
        if base not in SECTIONED_ATTRIBUTES:
            raise ParseError(f"Unknown fetch attribute {reader.quote(name)} "
                             f"(a [section] follows only {', '.join(SECTIONED_ATTRIBUTES)})")
        if base == "BINARY.SIZE" and peek:
            raise ParseError("Invalid fetch attribute BINARY.SIZE.PEEK")
        reader.pos += 1
        section = _section(reader, binary=base != "BODY")
        reader.expect(b"]", f"']' at the end of {base}[section]")
        partial = None
        if reader.maybe(b"<"):
            if base == "BINARY.SIZE":
                raise ParseError("BINARY.SIZE takes no partial")
            origin = reader.number("partial origin (<origin.length>)")
            reader.expect(b".", "'.' in the partial <origin.length>")
            # RFC 3501 says nz-number; Dovecot accepts 0 and answers an empty string
            length = reader.number("partial length (<origin.length>)")
            reader.expect(b">", "'>' at the end of the partial")
            partial = (origin, length)
        return FetchItem(base + "[]", section, partial, peek)
    if name in NOT_SUPPORTED:
        raise ParseError(f"FETCH {name} needs {NOT_SUPPORTED[name]}, which is not supported")
    if name not in FETCH_ATTRIBUTES:
        reader.pos = start
        if not name:
            raise reader.missing_or_expected("fetch attribute")
        if name in FETCH_MACROS:
            raise ParseError(f"{name} is a macro: it stands alone, never in a list")
        raise ParseError(f"Unknown fetch attribute {reader.quote(name)}")
    return FetchItem(name)


def _section(reader: Reader, binary: bool) -> Section:
    parts: list[int] = []
    while reader.peek() is not None and 0x30 <= reader.peek() <= 0x39:
        parts.append(reader.number("section part number", nonzero=True))
        if not reader.maybe(b"."):
            return Section(tuple(parts))
        if reader.peek() is not None and not (0x30 <= reader.peek() <= 0x39):
            break
    if binary:
        if reader.peek() != 0x5D:
            raise ParseError(f"BINARY takes only a part number, found {reader.found()}")
        return Section(tuple(parts))
    if reader.peek() == 0x5D:
        if parts:
            raise ParseError("Invalid section: a part number ends in '.'")
        return Section()
    text = reader.atom("section name").upper()
    if text not in SECTION_TEXTS:
        raise ParseError(f"Invalid section {reader.quote(text)} "
                         f"(expected a part number, {', '.join(SECTION_TEXTS)})")
    if text == "MIME":
        if not parts:
            raise ParseError("MIME needs a part number")
        return Section(tuple(parts), "MIME")
    if text in ("HEADER", "TEXT"):
        return Section(tuple(parts), text)
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        reader.sp(f"header field list after {text}")
        reader.open_paren(f"header field list '(' after {text}")
        fields = []
        while True:
            field = reader.astring("header field name")
            try:
                fields.append(field.decode("ascii").upper())
            except UnicodeDecodeError:
                raise ParseError(f"Invalid header field name {reader.quote(field)}") from None
            if not reader.list_continues("header field name"):
                break
        reader.depth -= 1
        return Section(tuple(parts), text, tuple(fields))
    raise ParseError(f"Invalid section {reader.quote(text)}")


PARSERS = {"FETCH": _fetch}
