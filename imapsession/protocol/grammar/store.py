"""STORE: the data item (FLAGS, +FLAGS, -FLAGS, .SILENT) and the flags."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ATOM_CHARS, ParseError, Reader

STORE_MODES = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}  # each also .SILENT
_ITEMS = "+FLAGS, -FLAGS or FLAGS (each may end in .SILENT)"


def _store(reader: Reader, uid: bool) -> tuple:
    reader.sp("sequence set")
    sequence = reader.sequence_set()
    reader.sp(_ITEMS)
    item = reader.run(ATOM_CHARS).upper().decode("ascii")
    if not item:
        raise reader.missing_or_expected(_ITEMS)
    silent = item.endswith(".SILENT")
    base = item[:-7] if silent else item
    if base not in STORE_MODES:
        raise ParseError(f"Expected {_ITEMS}, found {reader.quote(item)}")
    reader.sp("flags")
    return (sequence, STORE_MODES[base], silent, reader.flags_bare_or_list())


PARSERS = {"STORE": _store}
