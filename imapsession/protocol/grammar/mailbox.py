"""Commands on mailbox names: SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")  # RFC 3501 6.3.10
# items of extensions not implemented yet: refused with what is missing
STATUS_NOT_SUPPORTED = {"HIGHESTMODSEQ": "CONDSTORE"}


def _one_mailbox(reader: Reader, uid: bool) -> tuple:
    reader.sp("mailbox name")
    return (reader.mailbox(),)


def _rename(reader: Reader, uid: bool) -> tuple:
    reader.sp("mailbox name")
    old = reader.mailbox()
    reader.sp("new mailbox name")
    return (old, reader.mailbox())


def _status(reader: Reader, uid: bool) -> tuple:
    reader.sp("mailbox name")
    mailbox = reader.mailbox()
    reader.sp("status item list")
    reader.open_paren("status item list '('")
    if reader.maybe(b")"):
        raise ParseError("Empty status item list")
    items = []
    while True:
        item = reader.atom("status item").upper()
        if item in STATUS_NOT_SUPPORTED:
            raise ParseError(f"STATUS {item} needs {STATUS_NOT_SUPPORTED[item]}, "
                             "which is not supported")
        if item not in STATUS_ITEMS:
            raise ParseError(f"Invalid status item {reader.quote(item)} "
                             f"(expected {', '.join(STATUS_ITEMS)})")
        items.append(item)
        if not reader.list_continues("status item"):
            break
    reader.depth -= 1
    return (mailbox, tuple(items))


PARSERS = {
    "SELECT": _one_mailbox, "EXAMINE": _one_mailbox, "CREATE": _one_mailbox,
    "DELETE": _one_mailbox, "SUBSCRIBE": _one_mailbox, "UNSUBSCRIBE": _one_mailbox,
    "RENAME": _rename, "STATUS": _status,
}
