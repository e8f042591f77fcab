"""COPY, MOVE and their UID forms (RFC 3501 6.4.7; RFC 6851; COPYUID from RFC 4315)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, bad, no, ok
from imapsession.commands.uidsets import compact
from imapsession.protocol.command import Command
from imapsession.storage.base import NoSuchMailbox
from imapsession.view import InvalidMessageSet, resolve


def _targets(session: HandlerSession, command: Command) -> tuple[list[int], str]:
    sequence, wire_name = command.args
    return [uid for _, uid in resolve(session.view, sequence, command.uid)], \
        decode_mailbox_name(wire_name)


def _copyuid(result) -> str:
    return (f"COPYUID {result.uidvalidity} {compact(result.source_uids)} "
            f"{compact(result.target_uids)}")


def handle_copy(session: HandlerSession, command: Command) -> Done:
    try:
        uids, target = _targets(session, command)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    live = [uid for uid in uids if uid not in session.view.gone]
    try:
        result = session.view.mailbox.copy_to(live, target)
    except NoSuchMailbox:
        return no(f"Mailbox doesn't exist: {target}", "TRYCREATE")
    if len(live) < len(uids):
        return no("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    if not result.source_uids:
        return ok("No messages found.")
    return ok("Copy completed.", _copyuid(result))


def handle_move(session: HandlerSession, command: Command) -> Done:
    view = session.view
    if view.readonly:
        return no("Mailbox is read-only.")
    try:
        uids, target = _targets(session, command)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    live = [uid for uid in uids if uid not in view.gone]
    try:
        result = view.mailbox.move_to(live, target)
    except NoSuchMailbox:
        return no(f"Mailbox doesn't exist: {target}", "TRYCREATE")
    if result.source_uids:
        session.send(f"* OK [{_copyuid(result)}] Moved UIDs.\r\n".encode())
    # RFC 6851 3.3: the moved messages' EXPUNGEs go out with the MOVE itself
    for line in view.forget_expunged(list(result.source_uids)):
        session.send(line)
    if len(live) < len(uids):
        return no("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    return ok("Move completed." if result.source_uids else "No messages found.")
