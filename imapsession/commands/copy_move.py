"""COPY, MOVE and their UID forms (RFC 3501 6.4.7; RFC 6851; COPYUID from RFC 4315)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, bad, no, ok
from imapsession.commands.uidsets import compact
from imapsession.protocol.command import Command
from imapsession.storage.base import GONE_TEXT, MessageGone, NoSuchMailbox
from imapsession.view import InvalidMessageSet, resolve


def _targets(session: HandlerSession, command: Command) -> tuple[list[int], str]:
    sequence, wire_name = command.args
    return [uid for _, uid in resolve(session.view, sequence, command.uid)], \
        decode_mailbox_name(wire_name)


def _copyuid(result) -> str:
    return (f"COPYUID {result.uidvalidity} {compact(result.source_uids)} "
            f"{compact(result.target_uids)}")


def _gone() -> Done:
    return no(GONE_TEXT, MessageGone.code)


def handle_copy(session: HandlerSession, command: Command) -> Done:
    """All or nothing: any requested message gone copies none (RFC 3501 6.4.7, RFC 2180 4.4).

    Storage checks, inside the transaction that copies, both what this session knows
    is gone (its rows are gone already) and what another process expunged meanwhile;
    the target's absence is reported first, as Dovecot does.
    """
    try:
        uids, target = _targets(session, command)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    try:
        result = session.view.mailbox.copy_to(uids, target)
    except NoSuchMailbox:
        return no(f"Mailbox doesn't exist: {target}", "TRYCREATE")
    except MessageGone:
        return _gone()
    if not result.source_uids:
        return ok("No messages found.")
    return ok("Copy completed.", _copyuid(result))


def handle_move(session: HandlerSession, command: Command) -> Done:
    """As COPY; the COPYUID and the EXPUNGEs go out only when something moved."""
    view = session.view
    if view.readonly:
        return no("Mailbox is read-only.")
    try:
        uids, target = _targets(session, command)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    try:
        result = view.mailbox.move_to(uids, target)
    except NoSuchMailbox:
        return no(f"Mailbox doesn't exist: {target}", "TRYCREATE")
    except MessageGone:
        return _gone()
    if not result.source_uids:
        return ok("No messages found.")
    session.send(f"* OK [{_copyuid(result)}] Moved UIDs.\r\n".encode())
    # RFC 6851 3.3: the moved messages' EXPUNGEs go out with the MOVE itself
    for line in view.forget_expunged(list(result.source_uids)):
        session.send(line)
    return ok("Move completed.")
