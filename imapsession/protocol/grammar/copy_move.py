"""COPY and MOVE: a sequence set and the target mailbox."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import Reader


def _copy(reader: Reader, uid: bool) -> tuple:
    reader.sp("sequence set")
    sequence = reader.sequence_set()
    reader.sp("mailbox name")
    return (sequence, reader.mailbox())


PARSERS = {"COPY": _copy, "MOVE": _copy}
