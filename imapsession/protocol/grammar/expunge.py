"""EXPUNGE: no arguments; UID EXPUNGE takes a UID set."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import Reader


def _expunge(reader: Reader, uid: bool) -> tuple:
    if not uid:
        return ()
    reader.sp()
    return (reader.sequence_set(),)


PARSERS = {"EXPUNGE": _expunge}
