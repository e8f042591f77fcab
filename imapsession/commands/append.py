"""APPEND (RFC 3501 6.3.11), answering APPENDUID (RFC 4315)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, no, ok
from imapsession.protocol.command import Command
from imapsession.storage.base import NoSuchMailbox


def _discard(message) -> None:
    if not isinstance(message, bytes):
        message.discard()


def handle_append(session: HandlerSession, command: Command) -> Done:
    wire_name, flags, date, message = command.args
    try:
        target = decode_mailbox_name(wire_name)
        size = len(message) if isinstance(message, bytes) else message.size
        if size == 0:
            return no("Can't save a zero byte message.")
        try:
            result = session.store.append(target, message, flags or frozenset(), date)
        except NoSuchMailbox:
            return no(f"Mailbox doesn't exist: {target}", "TRYCREATE")
    finally:
        _discard(message)
    return ok("Append completed.", f"APPENDUID {result.uidvalidity} {result.uid}")
