"""ENVELOPE, byte for byte as Dovecot 2.3 writes it."""

from __future__ import annotations

from .address import Address
from .partdata import envelope_data
from .quote import for_humans, nstring, nstring_nolf
from .structure import Part, fields_header


def _addresses(addresses: tuple[Address, ...]) -> bytes:
    if not addresses:
        return b"NIL"
    items = []
    for a in addresses:
        name = b"NIL" if a.name is None else for_humans(a.name)
        items.append(b"(" + b" ".join((name, nstring(a.route), nstring(a.mailbox), nstring(a.domain))) + b")")
    return b"(" + b"".join(items) + b")"


def envelope_of_header(header: bytes) -> bytes:
    """The parenthesised ENVELOPE for a header block."""
    d = envelope_data(header)
    fields = (
        nstring_nolf(d.date),
        b"NIL" if d.subject is None else for_humans(d.subject),
        _addresses(d.from_),
        _addresses(d.sender or d.from_),
        _addresses(d.reply_to or d.from_),
        _addresses(d.to),
        _addresses(d.cc),
        _addresses(d.bcc),
        nstring_nolf(d.in_reply_to),
        nstring_nolf(d.message_id),
    )
    return b"(" + b" ".join(fields) + b")"


def envelope(msg: bytes, part: Part | None = None) -> bytes:
    """ENVELOPE of the message, or of the message enclosed in a message/rfc822 ``part``.

    ``part`` may be the message/rfc822 part itself or its enclosed message.
    """
    if part is None:
        return envelope_of_header(msg[: top_header_end(msg)])
    if part.is_message and part.message is not None:
        part = part.message
    return envelope_of_header(fields_header(msg, part))


def top_header_end(msg: bytes, start: int = 0) -> int:
    """Where a header starting at ``start`` ends (after its blank line, or at the end)."""
    pos = start
    size = len(msg)
    while pos < size:
        lf = msg.find(b"\n", pos)
        if lf < 0:
            return size
        if lf == pos or (lf == pos + 1 and msg[pos] == 0x0D):
            return lf + 1
        pos = lf + 1
    return size
