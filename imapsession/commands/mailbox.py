"""Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE."""

from __future__ import annotations

from imapsession.protocol.command import Command
from imapsession.session import CommandError, Done, Session, no, ok
from imapsession.text.mutf7 import mutf7_decode, mutf7_encode


def decode_mailbox_name(wire_name: str) -> str:
    """Modified UTF-7 from the wire to the Unicode name storage works with."""
    try:
        name = mutf7_decode(wire_name)
    except ValueError as exc:
        raise CommandError(no(f"Invalid mailbox name: {exc}", "CANNOT")) from None
    if mutf7_encode(name) != wire_name:  # e.g. "&Jjo-&Jjo-": one name, two spellings
        raise CommandError(no("Invalid mailbox name: not canonical modified UTF-7", "CANNOT"))
    return "INBOX" if name.upper() == "INBOX" else name


def handle_create(session: Session, command: Command) -> Done:
    name = decode_mailbox_name(command.args[0])
    separator = session.store.hierarchy_separator
    if name.endswith(separator):  # RFC 3501 6.3.3: a trailing separator is a hint only
        name = name.rstrip(separator)
    if name == "INBOX":
        return no("Mailbox already exists", "ALREADYEXISTS")
    session.store.create_mailbox(name)
    return ok("Create completed.")


def handle_delete(session: Session, command: Command) -> Done:
    name = decode_mailbox_name(command.args[0])
    if name == "INBOX":
        return no("INBOX can't be deleted.", "CANNOT")
    if session.view is not None and session.view.mailbox.name == name:
        # Dovecot refuses to delete the selected mailbox; so do we (RFC 3501 leaves it open)
        return no("Can't delete the selected mailbox.", "INUSE")
    session.store.delete_mailbox(name)
    return ok("Delete completed.")


def handle_rename(session: Session, command: Command) -> Done:
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


def handle_subscribe(session: Session, command: Command) -> Done:
    session.store.subscribe(decode_mailbox_name(command.args[0]))
    return ok("Subscribe completed.")


def handle_unsubscribe(session: Session, command: Command) -> Done:
    session.store.unsubscribe(decode_mailbox_name(command.args[0]))
    return ok("Unsubscribe completed.")
