"""Commands on mailbox names: SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")  # RFC 3501 6.3.10
# items of extensions not implemented yet: refused with what is missing
STATUS_NOT_SUPPORTED = {"HIGHESTMODSEQ": "CONDSTORE"}


def _one_mailbox(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    return (reader.mailbox(),)


def _rename(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    old = reader.mailbox()
    reader.sp()
    return (old, reader.mailbox())


def _status(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    mailbox = reader.mailbox()
    reader.sp()
    reader.open_paren()
    items = []
    while True:
        item = reader.atom("a status item").upper()
        if item in STATUS_NOT_SUPPORTED:
            raise ParseError(f"STATUS {item} needs {STATUS_NOT_SUPPORTED[item]}, "
                             "which is not supported")
        if item not in STATUS_ITEMS:
            raise ParseError(f"Invalid status item {item}")
        items.append(item)
        if reader.maybe(b")"):
            break
        reader.sp()
    reader.depth -= 1
    return (mailbox, tuple(items))


PARSERS = {
    "SELECT": _one_mailbox, "EXAMINE": _one_mailbox, "CREATE": _one_mailbox,
    "DELETE": _one_mailbox, "SUBSCRIBE": _one_mailbox, "UNSUBSCRIBE": _one_mailbox,
    "RENAME": _rename, "STATUS": _status,
}
