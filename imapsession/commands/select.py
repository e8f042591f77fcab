"""SELECT, EXAMINE, STATUS, CHECK, CLOSE, UNSELECT (RFC 3501 6.3.1, 6.3.2, 6.3.10,
6.4.1, 6.4.2; RFC 3691)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, ok
from imapsession.protocol import serializer
from imapsession.protocol.command import Command
from imapsession.text.mutf7 import mutf7_encode
from imapsession.view import MailboxView


def _open(session: HandlerSession, command: Command, readonly: bool) -> Done:
    name = decode_mailbox_name(command.args[0])
    session.leave_selected()  # RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected
    mailbox = session.store.open_mailbox(name, readonly=readonly)
    view = MailboxView(mailbox)
    try:
        view.load()
    except BaseException:
        mailbox.close()
        raise
    for line in view.flags_lines():
        session.send(line)
    session.send(b"* %d EXISTS\r\n* %d RECENT\r\n" % (view.exists, len(view.recent)))
    first_unseen = next(
        (seq for seq, uid in enumerate(view.uids, 1) if "\\Seen" not in view.flags[uid]), None
    )
    if first_unseen is not None:
        session.send(b"* OK [UNSEEN %d] First unseen.\r\n" % first_unseen)
    session.send(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % view.uidvalidity)
    session.send(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % view.uidnext)
    session.enter_selected(view)
    if readonly:
        return ok("Examine completed.", "READ-ONLY")
    return ok("Select completed.", "READ-WRITE")


def handle_select(session: HandlerSession, command: Command) -> Done:
    return _open(session, command, readonly=False)


def handle_examine(session: HandlerSession, command: Command) -> Done:
    return _open(session, command, readonly=True)


# exactly the grammar's STATUS_ITEMS (HIGHESTMODSEQ waits for CONDSTORE): checked by
# tests/test_fuzz_grammar_tables.py
STATUS_VALUES = {
    "MESSAGES": lambda info: info.messages, "RECENT": lambda info: info.recent,
    "UIDNEXT": lambda info: info.uidnext, "UIDVALIDITY": lambda info: info.uidvalidity,
    "UNSEEN": lambda info: info.unseen,
}


def handle_status(session: HandlerSession, command: Command) -> Done:
    wire_name, items = command.args
    name = decode_mailbox_name(wire_name)
    info = session.store.status(name)
    pairs = [f"{item} {STATUS_VALUES[item](info)}".encode() for item in items]
    session.send(
        b"* STATUS " + serializer.astring(mutf7_encode(name)) + b" " + serializer.plist(pairs)
        + b"\r\n"
    )
    return ok("Status completed.")


def handle_check(session: HandlerSession, command: Command) -> Done:
    return ok("Check completed.")


def handle_close(session: HandlerSession, command: Command) -> Done:
    view = session.view
    if view is not None and not view.readonly:
        view.mailbox.expunge()  # silently: no EXPUNGE responses (RFC 3501 6.4.2)
    session.leave_selected()
    return ok("Close completed.")


def handle_unselect(session: HandlerSession, command: Command) -> Done:
    session.leave_selected()
    return ok("Unselect completed.")
