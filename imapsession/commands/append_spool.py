"""Where a large APPEND's literal is spooled while it arrives.

The session's literal policy accepts an APPEND literal over ``max_literal``
into a spool file before the command is complete, so before it is parsed:
the spool goes where the target mailbox is (its tmp/ in Maildir) when the
head already names one, else to the store's root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.protocol import framing
from imapsession.protocol.grammar import parse_command

if TYPE_CHECKING:
    from imapsession.storage.base import MailStore, SpoolFile


def new_append_spool(store: MailStore, head: bytes) -> SpoolFile:
    """A spool file for a large APPEND, in the target mailbox's tmp/ when it can be named."""
    target = None
    first_line = head.split(b"\r\n")[0]
    try:  # parse "tag APPEND mailbox [flags] [date] {0}" for the mailbox name
        probe = first_line[: first_line.rindex(b"{")] + b"{0}"
        command = parse_command(framing.Frame((probe, b""), (b"",)))
        target = decode_mailbox_name(command.args[0])
    except Exception:  # noqa: BLE001 - any unparseable head spools to the root
        target = None
    try:
        return store.new_spool(target)
    except Exception:  # noqa: BLE001 - e.g. the target does not exist
        return store.new_spool(None)
