"""STORE and UID STORE (RFC 3501 6.4.6)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, bad, no, ok
from imapsession.protocol.command import Command
from imapsession.view import InvalidMessageSet, resolve


def handle_store(session: HandlerSession, command: Command) -> Done:
    sequence, mode, silent, flags = command.args
    view = session.view
    if view.readonly:
        return no("Mailbox is read-only.")
    try:
        targets = resolve(view, sequence, command.uid)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    live = [uid for _, uid in targets if uid not in view.gone]
    records, _failed = view.mailbox.store_flags(live, mode, flags)
    for record in records:
        view.apply_own_change(record)
    # the sync point runs now, so that new keywords' FLAGS precede the FETCH lines
    for line in view.refresh(allow_expunge=command.uid, with_uid=command.uid):
        session.send(line)
    if not silent:
        for record in records:
            seq = view.seq_of(record.uid)
            if seq is None:  # expunged and announced by the sync point just now
                continue
            uid = b"UID %d " % record.uid if command.uid else b""
            session.send(b"* %d FETCH (%sFLAGS %s)\r\n" % (seq, uid, view.formatted_flags(record.uid)))
    if len(records) < len(targets):
        return no("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    return ok("Store completed.")
