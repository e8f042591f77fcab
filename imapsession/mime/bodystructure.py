"""BODY and BODYSTRUCTURE, byte for byte as Dovecot 2.3 writes them.

Sizes are CRLF octets of each part's body; text/* parts carry their line
count; a part that the parser did not descend into because of the nesting
limit is reported as application/octet-stream (as Dovecot does).
"""

from __future__ import annotations

from .envelope import envelope_of_header
from .partdata import ContentData, Params, content_data
from .quote import nstring_nolf, string
from .structure import MULTIPART_DIGEST, Part, fields_header, parse

_EMPTY_BODY = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'
_EMPTY_BODYSTRUCTURE = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'


def _params(params: Params, default_charset: bool) -> bytes:
    if not default_charset and not params:
        return b"NIL"
    items = []
    for name, value in params:
        items.append(string(name) + b" " + string(value))
    if default_charset and not any(name.lower() == b"charset" for name, _v in params):
        items.append(b'"charset" "us-ascii"')
    return b"(" + b" ".join(items) + b")"


def _common(data: ContentData) -> bytes:
    if data.disposition is None:
        disposition = b"NIL"
    else:
        disposition = b"(" + string(data.disposition) + b" " + _params(data.disposition_params, False) + b")"
    if data.language is None:
        language = b"NIL"
    else:
        language = b"(" + b" ".join(string(lang) for lang in data.language) + b")"
    return b" " + disposition + b" " + language + b" " + nstring_nolf(data.location)


def _truncated(part: Part, data: ContentData, parent: Part | None) -> bool:
    if data.content_type is not None:
        ctype = data.content_type.lower()
        subtype = (data.subtype or b"").lower()
        return (ctype == b"message" and subtype == b"rfc822") or ctype == b"multipart"
    return parent is not None and bool(parent.flags & MULTIPART_DIGEST)


def _write(msg: bytes, part: Part, extended: bool, parent: Part | None, out: list[bytes]) -> None:
    data = content_data(msg, part)
    if part.is_multipart:
        if part.children:
            for child in part.children:
                out.append(b"(")
                _write(msg, child, extended, part, out)
                out.append(b")")
        else:
            out.append(_EMPTY_BODYSTRUCTURE if extended else _EMPTY_BODY)
        out.append(b" " + string(data.subtype or b""))
        if extended:
            out.append(b" " + _params(data.params, False) + _common(data))
        return
    text = False
    if part.is_message:
        out.append(b'"message" "rfc822"')
    elif _truncated(part, data, parent):
        out.append(b'"application" "octet-stream"')
    elif data.content_type is None:
        text = True
        out.append(b'"text" "plain"')
    else:
        text = data.content_type.lower() == b"text"
        out.append(string(data.content_type) + b" " + string(data.subtype or b""))
    out.append(b" " + _params(data.params, text))
    out.append(b" " + nstring_nolf(data.content_id) + b" " + nstring_nolf(data.description) + b" ")
    out.append(string(data.transfer_encoding) if data.transfer_encoding is not None else b'"7bit"')
    out.append(b" %d" % (part.body_end - part.body_start))
    if text:
        out.append(b" %d" % part.body_lines)
    elif part.is_message and part.message is not None:
        inner = part.message
        out.append(b" " + envelope_of_header(fields_header(msg, inner)) + b" (")
        _write(msg, inner, extended, part, out)
        out.append(b") %d" % part.body_lines)
    if extended:
        out.append(b" " + nstring_nolf(data.md5) + _common(data))


def body_structure(msg: bytes, extended: bool, part: Part | None = None) -> bytes:
    """BODY (``extended`` false) or BODYSTRUCTURE of the message or of ``part``.

    ``part`` defaults to the whole message (parsed here when not given); a
    sub-part given here is described as if it had no multipart/digest parent.
    """
    if part is None:
        part = parse(msg)
    out: list[bytes] = [b"("]
    _write(msg, part, extended, None, out)
    out.append(b")")
    return b"".join(out)
