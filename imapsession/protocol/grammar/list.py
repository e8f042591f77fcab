"""LIST and LSUB: a reference name and a mailbox pattern."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader


def _list(reader: Reader, uid: bool) -> tuple:
    reader.sp("reference name")
    reference = reader.astring("reference name")
    reader.sp("mailbox pattern")
    try:
        ref = reference.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"Reference name {reader.quote(reference)} is not valid UTF-8") from None
    return (ref, reader.list_mailbox())


PARSERS = {"LIST": _list, "LSUB": _list}
