"""BODY[section] octets, chosen as Dovecot 2.3 chooses them.

* ``[]`` whole message, ``[HEADER]`` top header through its blank line,
  ``[TEXT]`` what follows it.
* ``[n]`` the body of part n; for a message that is not multipart, part 1 is
  the message itself (so ``[1]`` is its body and ``[1.MIME]`` its header).
* ``[n.MIME]`` the part's own header; ``[n.HEADER]``/``[n.TEXT]``/
  ``[n.HEADER.FIELDS ...]`` exist only for a message/rfc822 part and mean
  the enclosed message's header/body.
* A part that does not exist gives ``None``; Dovecot then answers with an
  empty literal (``BODY[5] {0}``), see ``missing_section_value``.
* NUL octets are sent as 0x80 (Dovecot does so for every non-BINARY fetch).
* Dovecot always sends these values as literals, even when empty.
"""

from __future__ import annotations

from imapsession.protocol.types import Section

from .envelope import top_header_end
from .headers import iter_fields
from .structure import Part, find_part, parse


def missing_section_value() -> bytes:
    """What Dovecot sends for a section naming a nonexistent part: an empty string.

    It is sent as a literal, ``{0}`` followed by CRLF, like every BODY[] value.
    """
    return b""


def _nonuls(data: bytes) -> bytes:
    return data.replace(b"\0", b"\x80") if b"\0" in data else data


def header_fields(header: bytes, fields: tuple[str, ...], exclude: bool) -> bytes:
    """HEADER.FIELDS (``exclude`` false) or HEADER.FIELDS.NOT of a header block.

    Matching fields are kept whole (with their continuation lines), in
    message order.  HEADER.FIELDS always ends with a blank line (and ends
    a last field that lacks its newline with CRLF);
    HEADER.FIELDS.NOT only when the header itself had one (Dovecot's header
    filter passes the end-of-header line through).  Names match
    case-insensitively, ignoring blanks before the colon.
    """
    wanted = {f.lower().encode() for f in fields}
    out = bytearray()
    for name, _value, start, end in iter_fields(header):
        if (name.lower() in wanted) != exclude:
            out += header[start:end]
            if not exclude and not header[start:end].endswith(b"\n"):
                out += b"\r\n"
    if not exclude or _has_blank_line(header):
        out += b"\r\n"
    return _nonuls(bytes(out))


def _has_blank_line(header: bytes) -> bool:
    return header in (b"\r\n", b"\n") or header.endswith((b"\n\r\n", b"\n\n"))


def section(msg: bytes, sect: Section, root: Part | None = None) -> bytes | None:
    """The octets of BODY[sect] before any <partial>, or None when the part is missing.

    ``root`` is ``parse(msg)`` when the caller already has it.
    """
    text = (sect.text or "").upper() or None
    if not sect.part:
        if text is None:
            return _nonuls(msg)
        hend = top_header_end(msg)
        if text == "HEADER":
            return _nonuls(msg[:hend])
        if text == "TEXT":
            return _nonuls(msg[hend:])
        if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            return header_fields(msg[:hend], sect.fields, text.endswith(".NOT"))
        raise ValueError(f"BODY[{sect.to_wire()}] is not a valid section")
    if root is None:
        root = parse(msg)
    part = find_part(root, sect.part)
    if part is None:
        return None
    if text is None:
        return _nonuls(part.body(msg))
    if text == "MIME":
        return _nonuls(part.header(msg))
    if not part.is_message or part.message is None:
        return None
    inner = part.message
    if text == "HEADER":
        return _nonuls(inner.header(msg))
    if text == "TEXT":
        return _nonuls(inner.body(msg))
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        # Dovecot's header filter re-reads from the enclosed message's start up
        # to the first blank line, ignoring where the parser ended that header.
        start = inner.header_start
        header = msg[start : start + top_header_end(msg[start:])]
        return header_fields(header, sect.fields, text.endswith(".NOT"))
    raise ValueError(f"BODY[{sect.to_wire()}] is not a valid section")
