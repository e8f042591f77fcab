"""EXPUNGE: no arguments; UID EXPUNGE takes a UID set."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader


def _expunge(reader: Reader, uid: bool) -> tuple:
    if not uid:
        if not reader.at_end():
            raise ParseError(f"Expected no arguments, found {reader.found_after_space()}")
        return ()
    reader.sp("UID set")
    return (reader.sequence_set("UID set"),)


PARSERS = {"EXPUNGE": _expunge}
