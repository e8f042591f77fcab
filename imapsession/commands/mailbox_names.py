"""Mailbox names from the wire: modified UTF-7 decoded, and refused unless canonical.

Every command that names a mailbox (SELECT, APPEND, COPY, LIST, CREATE, ...)
decodes it here, as does the session when it picks a large APPEND's spool.
"""

from __future__ import annotations

from imapsession.commands.results import CommandError, no
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
