"""EXPUNGE and UID EXPUNGE (RFC 3501 6.4.3; RFC 4315 2.1)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, no, ok
from imapsession.protocol.command import Command
from imapsession.view import resolve


def handle_expunge(session: HandlerSession, command: Command) -> Done:
    view = session.view
    if view.readonly:
        return no("Mailbox is read-only.")
    uids = None
    if command.uid:
        uids = [uid for _, uid in resolve(view, command.args[0], by_uid=True)]
    removed = view.mailbox.expunge(uids)
    session.expunged_total += len(removed)
    for line in view.forget_expunged(removed):
        session.send(line)
    return ok("Expunge completed.")
