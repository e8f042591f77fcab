"""APPEND: mailbox, optional flags and date-time, the message literal (maybe spooled)."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import Reader


def _append(reader: Reader, uid: bool) -> tuple:
    reader.sp("mailbox name")
    mailbox = reader.mailbox()
    reader.sp("message literal")
    flags = None
    date = None
    if reader.peek() == 0x28:
        flags = reader.flag_list()
        reader.sp("message literal")
    if reader.peek() == 0x22:
        date = reader.date_time()
        reader.sp("message literal")
    if reader.peek() != 0x7B:
        raise reader.missing_or_expected("message literal")
    message = reader.literal(allow_spooled=True)
    return (mailbox, flags, date, message)


PARSERS = {"APPEND": _append}
