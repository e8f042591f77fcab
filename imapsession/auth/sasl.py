"""SASL PLAIN (RFC 4616) messages: base64 of ``authzid NUL authcid NUL password``."""

from __future__ import annotations

import base64
import binascii


class SaslError(ValueError):
    """The client's SASL response cannot be decoded."""


def decode_plain(response: bytes) -> tuple[bytes, bytes, bytes]:
    """(authzid, authcid, password) from a base64 PLAIN response."""
    try:
        message = base64.b64decode(response, validate=True)
    except (binascii.Error, ValueError):
        raise SaslError("Invalid base64 data") from None
    parts = message.split(b"\0")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise SaslError("Invalid PLAIN message")
    return parts[0], parts[1], parts[2]
