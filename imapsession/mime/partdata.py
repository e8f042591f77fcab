"""What a part's header says about it: Content-* fields and envelope fields.

Mirrors Dovecot's message-part-data: the first Content-Type,
-Transfer-Encoding, -ID, -MD5, -Language, -Location and -Description win
(a Content-Disposition without parameters can be replaced by a later one);
all of them are dropped when the part is not MIME (no MIME-Version and no
Content-Type at the top, or in an enclosed message).  For the envelope,
the last Date, Subject, Message-ID and In-Reply-To win and address fields
of the same name are joined.
"""

from __future__ import annotations

import attrs

from .address import Address, parse_addresses
from .headers import iter_fields
from .rfc822 import NUL_REPLACEMENT, Tokenizer, rfc2231_params
from .structure import IS_MIME, Part, fields_header


def header_strdup(value: bytes) -> bytes:
    """Dovecot keeps header values as C strings: NUL becomes U+FFFD."""
    return value.replace(b"\0", NUL_REPLACEMENT) if b"\0" in value else value


Params = tuple[tuple[bytes, bytes], ...]


@attrs.frozen
class ContentData:
    content_type: bytes | None = None
    subtype: bytes | None = None
    params: Params = ()
    transfer_encoding: bytes | None = None
    content_id: bytes | None = None
    description: bytes | None = None
    md5: bytes | None = None
    disposition: bytes | None = None
    disposition_params: Params = ()
    language: tuple[bytes, ...] | None = None
    location: bytes | None = None


def _content_type(value: bytes) -> tuple[bytes, bytes, Params]:
    tok = Tokenizer(value)
    tok.skip_lwsp()
    out = bytearray()
    ret = tok.content_type(out)
    full = bytes(out)
    slash = full.find(b"/")
    ctype, subtype = (full, b"") if slash < 0 else (full[:slash], full[slash + 1 :])
    if ret < 0:
        return ctype, subtype, ()
    return ctype, subtype, tuple(rfc2231_params(tok))


def _token_value(value: bytes) -> bytes | None:
    tok = Tokenizer(value)
    tok.skip_lwsp()
    out = bytearray()
    if tok.mime_token(out) >= 0 and tok.skip_lwsp() == 0 and out:
        return bytes(out)
    return None


def _disposition(value: bytes) -> tuple[bytes, Params] | None:
    tok = Tokenizer(value)
    tok.skip_lwsp()
    out = bytearray()
    if tok.mime_token(out) < 0:
        return None
    return bytes(out), tuple(rfc2231_params(tok))


def _language(value: bytes) -> tuple[bytes, ...] | None:
    tok = Tokenizer(value)
    tok.skip_lwsp()
    langs = []
    out = bytearray()
    while tok.atom(out) >= 0:
        langs.append(bytes(out))
        del out[:]
        if tok.pos >= tok.end or tok.data[tok.pos] != 0x2C:
            break
        tok.pos += 1
        tok.skip_lwsp()
    return tuple(langs) or None


def content_data(msg: bytes, part: Part) -> ContentData:
    """The Content-* data of ``part`` (defaults when it is not MIME)."""
    if not part.flags & IS_MIME:
        return ContentData()
    fields: dict[str, object] = {}
    for name, value, _s, _e in iter_fields(fields_header(msg, part)):
        lname = name.lower()
        if not lname.startswith(b"content-"):
            continue
        key = lname[8:]
        if key == b"type" and "content_type" not in fields:
            ctype, subtype, params = _content_type(value)
            fields.update(content_type=ctype, subtype=subtype, params=params)
        elif key == b"transfer-encoding" and fields.get("transfer_encoding") is None:
            fields["transfer_encoding"] = _token_value(value)
        elif key == b"id" and "content_id" not in fields:
            fields["content_id"] = header_strdup(value)
        elif key == b"md5" and "md5" not in fields:
            fields["md5"] = header_strdup(value)
        elif key == b"language" and fields.get("language") is None:
            fields["language"] = _language(value)
        elif key == b"location" and "location" not in fields:
            fields["location"] = header_strdup(value)
        elif key == b"description" and "description" not in fields:
            fields["description"] = header_strdup(value)
        elif key == b"disposition" and not fields.get("disposition_params"):
            parsed = _disposition(value)
            if parsed is not None:
                fields["disposition"], fields["disposition_params"] = parsed
    return ContentData(**fields)  # type: ignore[arg-type]


@attrs.frozen
class EnvelopeData:
    date: bytes | None = None
    subject: bytes | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    in_reply_to: bytes | None = None
    message_id: bytes | None = None


_STRINGS = {b"date": "date", b"subject": "subject", b"message-id": "message_id",
            b"in-reply-to": "in_reply_to"}
_ADDRESSES = {b"from": "from_", b"sender": "sender", b"reply-to": "reply_to", b"to": "to",
              b"cc": "cc", b"bcc": "bcc"}


def envelope_data(header: bytes) -> EnvelopeData:
    strings: dict[str, bytes] = {}
    addresses: dict[str, list[Address]] = {}
    for name, value, _s, _e in iter_fields(header):
        lname = name.lower()
        if lname in _STRINGS:
            strings[_STRINGS[lname]] = header_strdup(value)
        elif lname in _ADDRESSES:
            addresses.setdefault(_ADDRESSES[lname], []).extend(parse_addresses(value))
    return EnvelopeData(**strings, **{k: tuple(v) for k, v in addresses.items()})
