"""Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, no, ok
from imapsession.protocol.command import Command


def handle_create(session: HandlerSession, command: Command) -> Done:
    name = decode_mailbox_name(command.args[0])
    separator = session.store.hierarchy_separator
    if name.endswith(separator):  # RFC 3501 6.3.3: a trailing separator is a hint only
        name = name.rstrip(separator)
    if name == "INBOX":
        return no("Mailbox already exists", "ALREADYEXISTS")
    session.store.create_mailbox(name)
    return ok("Create completed.")


def handle_delete(session: HandlerSession, command: Command) -> Done:
    name = decode_mailbox_name(command.args[0])
    if name == "INBOX":
        return no("INBOX can't be deleted.", "CANNOT")
    if session.view is not None and session.view.mailbox.name == name:
        # Dovecot refuses to delete the selected mailbox; so do we (RFC 3501 leaves it open)
        return no("Can't delete the selected mailbox.", "INUSE")
    session.store.delete_mailbox(name)
    return ok("Delete completed.")


def handle_rename(session: HandlerSession, command: Command) -> Done:
    old = decode_mailbox_name(command.args[0])
    new = decode_mailbox_name(command.args[1])
    if new == "INBOX":
        return no("Can't rename onto INBOX.", "ALREADYEXISTS")
    selected = session.view.mailbox.name if session.view is not None else None
    if selected is not None and old != "INBOX" and (
            selected == old or selected.startswith(old + session.store.hierarchy_separator)):
        # as with DELETE: the open mailbox would vanish under the session
        return no("Can't rename the selected mailbox.", "INUSE")
    session.store.rename_mailbox(old, new)
    return ok("Rename completed.")


def handle_subscribe(session: HandlerSession, command: Command) -> Done:
    session.store.subscribe(decode_mailbox_name(command.args[0]))
    return ok("Subscribe completed.")


def handle_unsubscribe(session: HandlerSession, command: Command) -> Done:
    session.store.unsubscribe(decode_mailbox_name(command.args[0]))
    return ok("Unsubscribe completed.")
