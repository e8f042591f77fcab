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

``section_range`` says where the value lies instead of copying it, so a
large stored message (``stream.StoredMessage``) can send it in chunks;
``section`` is that range read (the in-memory path).
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


def header_fields(header: bytes, fields: tuple[str, ...], exclude: bool,
                  *, from_cache: bool | None = None) -> bytes:
    """HEADER.FIELDS (``exclude`` false) or HEADER.FIELDS.NOT of a header block.

    Matching fields are kept whole (with their continuation lines), in
    message order; names match case-insensitively, ignoring blanks before
    the colon.  Dovecot has two ways to produce this, and they differ at
    the edges:

    * top-level HEADER.FIELDS (``from_cache``, the default when not
      ``exclude``) rebuilds the lines from its header cache: every line ends
      in CRLF (a CR already before the newline is not doubled) and a blank
      line always follows;
    * HEADER.FIELDS.NOT, and both forms inside message/rfc822, run a header
      filter over the raw octets: lines are copied as they are and the
      blank line is there only when the header had one.
    """
    if from_cache is None:
        from_cache = not exclude
    wanted = {f.lower().encode() for f in fields}
    out = bytearray()
    for name, _value, start, end in iter_fields(header):
        if (name.lower() in wanted) == exclude:
            continue
        if not from_cache:
            out += header[start:end]
            continue
        chunk = header[start:end]
        pos = 0
        while pos < len(chunk):
            lf = chunk.find(b"\n", pos)
            stop = len(chunk) if lf < 0 else lf
            line = chunk[pos:stop]
            if lf >= 0 and line.endswith(b"\r"):
                line = line[:-1]
            out += line + (b"\n" if line.endswith(b"\r") else b"\r\n")
            pos = stop + 1
    if from_cache or _has_blank_line(header):
        out += b"\r\n"
    return _nonuls(bytes(out))


def _has_blank_line(header: bytes) -> bool:
    return header in (b"\r\n", b"\n") or header.endswith((b"\n\r\n", b"\n\n"))


def section(msg: bytes, sect: Section, root: Part | None = None) -> bytes | None:
    """The octets of BODY[sect] before any <partial>, or None when the part is missing.

    ``root`` is ``parse(msg)`` when the caller already has it.
    """
    value = section_range(msg, sect, root)
    if value is None or type(value) is bytes:
        return value
    start, stop = value
    return _nonuls(msg[start:stop])


def section_range(msg, sect: Section, root: Part | None = None) -> bytes | tuple[int, int] | None:
    """Where BODY[sect] lies in ``msg`` as (start, stop), or its octets when they
    are computed (HEADER.FIELDS), or None when the part is missing.

    A range is sent with NUL as 0x80, like every BODY[] value.  On a stored
    message ``root`` is required (the top header then ends where it says).
    """
    text = (sect.text or "").upper() or None
    if not sect.part:
        if text is None:
            return 0, len(msg)
        hend = top_header_end(msg) if type(msg) is bytes or root is None else root.body_start
        if text == "HEADER":
            return 0, hend
        if text == "TEXT":
            return hend, len(msg)
        if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            return header_fields(msg[:hend], sect.fields, text.endswith(".NOT"))
        raise ValueError(f"BODY[{sect.to_wire()}] is not a valid section")
    if root is None:
        root = parse(msg)
    part = find_part(root, sect.part)
    if part is None:
        return None
    if text is None:
        return part.body_start, part.body_end
    if text == "MIME":
        return part.header_start, part.body_start
    if not part.is_message or part.message is None:
        return None
    inner = part.message
    if text == "HEADER":
        return inner.header_start, inner.body_start
    if text == "TEXT":
        return inner.body_start, inner.body_end
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        # Dovecot's header filter re-reads from the enclosed message's start up
        # to the first blank line, ignoring where the parser ended that header.
        start = inner.header_start
        header = msg[start : top_header_end(msg, start)]
        return header_fields(header, sect.fields, text.endswith(".NOT"), from_cache=False)
    raise ValueError(f"BODY[{sect.to_wire()}] is not a valid section")
