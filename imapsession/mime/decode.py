"""Decoded text for SEARCH, following Dovecot's message-header-decode and -decoder.

* Encoded words ``=?charset?Q|B?text?=`` are decoded wherever they appear;
  blanks that only separate two encoded words (or precede the first) are
  dropped; a malformed word stays as it is.
* Bytes are converted from their charset to ``str``; an unknown charset is
  read as UTF-8, and invalid UTF-8 becomes U+FFFD (Dovecot keeps the valid
  ASCII in both cases).
* Header values are unfolded (the CR/LF of continuation lines removed).

The ``email`` package is imported only inside the functions that need it.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from .envelope import top_header_end
from .headers import iter_fields

_UTF8_ALIASES = {"utf-8", "utf8", "us-ascii", "ascii", "us_ascii", "646"}


def _to_str(data: bytes, charset: str | None) -> str:
    name = (charset or "utf-8").strip().lower()
    if name in _UTF8_ALIASES:
        return data.decode("utf-8", "replace")
    try:
        codec = codecs.lookup(name)
    except LookupError:
        return data.decode("utf-8", "replace")
    return data.decode(codec.name, "replace")


def _q_decode(text: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == 0x5F:
            out.append(0x20)
        elif c == 0x3D and re.fullmatch(rb"[0-9A-Fa-f]{2}", text[i + 1 : i + 3]):
            out.append(int(text[i + 1 : i + 3], 16))
            i += 2
        elif c != 0x3D:
            out.append(c)
        i += 1
    return bytes(out)


def _b_decode(text: bytes) -> bytes:
    """Base64 up to the first invalid character (what Dovecot shows of a broken word)."""
    match = re.match(rb"[A-Za-z0-9+/]*", text)
    data = match.group(0) if match else b""
    if len(data) % 4 == 1:
        data = data[:-1]
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return b""


def decode_header_value(value: bytes) -> str:
    """RFC 2047-decode one header value the way Dovecot does, and unfold it."""
    out: list[str] = []
    size = len(value)
    start = pos = 0
    while pos + 1 < size:
        if value[pos] != 0x3D or value[pos + 1] != 0x3F:
            pos += 1
            continue
        if pos != start and value[start:pos].strip(b" \t\r\n"):
            out.append(_to_str(value[start:pos], None))
        rest = pos + 2
        marks = []
        i = rest
        while i < size and len(marks) < 3:
            if value[i] == 0x3F:
                marks.append(i)
            i += 1
        end = marks[2] + 1 if len(marks) == 3 else size
        if len(marks) < 3 or end >= size or value[end] != 0x3D:
            start = pos
            pos += 2
            continue
        charset = value[rest : marks[0]].decode("ascii", "replace")
        encoding = value[marks[0] + 1 : marks[0] + 2].upper()
        text = value[marks[1] + 1 : marks[2]]
        if encoding == b"Q":
            decoded = _q_decode(text)
        elif encoding == b"B":
            decoded = _b_decode(text)
        else:
            start = pos
            pos += 2
            continue
        out.append(_to_str(decoded, charset))
        pos = start = end + 1
    if start < size:
        out.append(_to_str(value[start:], None))
    return "".join(out).replace("\r\n", "").replace("\n", "")


def decoded_headers(msg: bytes, name: str) -> list[str]:
    """Decoded, unfolded values of every top-level header field called ``name``."""
    wanted = name.lower().encode()
    header = msg[: top_header_end(msg)]
    return [decode_header_value(v) for n, v, _s, _e in iter_fields(header) if n.lower() == wanted]


def decoded_addresses(msg: bytes, name: str) -> list[str]:
    """Address fields as Dovecot's SEARCH FROM/TO/CC/BCC sees them.

    Each field is parsed as an address list, written back in a normal form
    (comments dropped, ``Name <local@domain>``, groups as ``name: ...;``)
    and then RFC 2047-decoded.
    """
    from .address import parse_addresses, write_addresses

    wanted = name.lower().encode()
    header = msg[: top_header_end(msg)]
    return [decode_header_value(write_addresses(parse_addresses(v)))
            for n, v, _s, _e in iter_fields(header) if n.lower() == wanted]


def all_decoded_headers(msg: bytes) -> str:
    """The whole top-level header, decoded, one ``Name: value`` line per field (for TEXT)."""
    header = msg[: top_header_end(msg)]
    lines = []
    for n, v, _s, _e in iter_fields(header):
        lines.append(_to_str(n, None) + ": " + decode_header_value(v))
    return "\n".join(lines)


def all_decoded_part_headers(msg: bytes) -> Iterator[str]:
    """Every header in the message, decoded: the top-level one and each MIME part's
    and enclosed message's, as Dovecot's TEXT search reads them."""
    from .structure import parse

    stack = [parse(msg)]
    while stack:
        part = stack.pop()
        header = part.header(msg)
        yield "\n".join(_to_str(n, None) + ": " + decode_header_value(v)
                         for n, v, _s, _e in iter_fields(header))
        stack.extend(reversed(part.children))


def decoded_body_texts(msg: bytes) -> Iterator[str]:
    """The decoded text of every leaf part Dovecot's BODY/TEXT search reads.

    As in Dovecot's message-search: a part is text when it has no
    Content-Type or its first Content-Type is text/* or message/*; a part
    with an unknown transfer encoding is skipped; base64/QP are undone (a
    broken encoding is searched as stored) and the charset applied.
    """
    from .binary import BinaryDecodeError, UnknownCTE, _cte, _decode
    from .rfc822 import Tokenizer, rfc2231_params
    from .structure import parse

    root = parse(msg)
    stack = [root]
    while stack:
        part = stack.pop()
        if part.children:
            stack.extend(reversed(part.children))
            continue
        header = part.header(msg)
        charset = None
        values = [v for n, v, _s, _e in iter_fields(header) if n.lower() == b"content-type"]
        if values:
            tok = Tokenizer(values[0])
            tok.skip_lwsp()
            ctype = bytearray()
            ret = tok.content_type(ctype)
            if not ctype.lower().startswith((b"text/", b"message/")):
                continue
            if ret >= 0:
                charset = next((v for k, v in rfc2231_params(tok) if k.lower() == b"charset"), None)
        try:
            body = _decode(_cte(header), part.body(msg))
        except UnknownCTE:
            continue
        except BinaryDecodeError:
            body = part.body(msg)
        yield _to_str(body, charset.decode("ascii", "replace") if charset else None)


def date_header(msg: bytes) -> datetime | None:
    """The sent date from the first Date: field, in the sender's own zone; None if unusable.

    SENTBEFORE/SENTON/SENTSINCE compare its ``.date()`` (Dovecot ignores the
    zone by comparing the sender's local date).
    """
    from email.utils import parsedate_tz

    header = msg[: top_header_end(msg)]
    values = [v for n, v, _s, _e in iter_fields(header) if n.lower() == b"date"]
    if not values:
        return None
    parsed = parsedate_tz(values[0].decode("latin-1").replace("\r\n", ""))
    if parsed is None:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    offset = parsed[9] or 0
    try:
        return datetime(year, month, day, hour, minute, second,
                        tzinfo=timezone(timedelta(seconds=offset)))
    except (ValueError, OverflowError):
        return None
