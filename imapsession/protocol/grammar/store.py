"""STORE: the data item (FLAGS, +FLAGS, -FLAGS, .SILENT) and the flags."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader

STORE_MODES = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}  # each also .SILENT


def _store(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    sequence = reader.sequence_set()
    reader.sp()
    item = reader.atom("a STORE item").upper()
    silent = item.endswith(".SILENT")
    base = item[:-7] if silent else item
    if base not in STORE_MODES:
        raise ParseError(f"Invalid STORE data item {item[:40]}")
    reader.sp()
    return (sequence, STORE_MODES[base], silent, reader.flags_bare_or_list())


PARSERS = {"STORE": _store}
