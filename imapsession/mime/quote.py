"""Dovecot's string forms that the shared serializer does not cover.

``nstring`` is the serializer's rule (quoted unless CR, LF, 8-bit or more
than four quote/backslash characters; then a literal).  Two more are
needed for byte-exact ENVELOPE/BODYSTRUCTURE:

* ``nstring_nolf``: newlines are removed first (a space is put in when the
  next line does not start with a blank), used for Date, Message-ID,
  In-Reply-To, Content-ID, -Description, -MD5 and -Location;
* ``for_humans``: Subject and address display names; runs of blanks
  (SP, TAB, CR, LF) collapse to one space, leading and trailing blanks go,
  NUL becomes 0x80, and the result is a literal whenever anything had to
  change or it contains '"' or '\\' (an all-blank value is ``""``).
"""

from __future__ import annotations

from imapsession.protocol.serializer import literal, nstring, string

__all__ = ["for_humans", "nstring", "nstring_nolf", "string"]

_BLANK = (0x20, 0x09, 0x0D, 0x0A)


def nstring_nolf(value: bytes | None) -> bytes:
    if value is None or (b"\r" not in value and b"\n" not in value):
        return nstring(value)
    out = bytearray()
    size = len(value)
    for i, c in enumerate(value):
        if c not in (0x0D, 0x0A):
            out.append(c)
        elif i + 1 < size and value[i + 1] not in _BLANK:
            out.append(0x20)
    return string(bytes(out))


def for_humans(value: bytes) -> bytes:
    modify = False
    last_blank = True
    prefix_blank = True
    for c in value:
        if c == 0:
            last_blank = False
            modify = True
        elif c in _BLANK:
            if c != 0x20:
                modify = True
            if last_blank:
                modify = True
            last_blank = True
        elif c in (0x22, 0x5C) or c >= 0x80:
            modify = True
            last_blank = False
        else:
            last_blank = False
        if not last_blank:
            prefix_blank = False
    if last_blank and value and not prefix_blank:
        modify = True
    if not modify:
        return b'"' + value + b'"'
    out = bytearray()
    last_blank = True
    for c in value:
        if c == 0:
            out.append(0x80)
            last_blank = False
        elif c in _BLANK:
            if not last_blank:
                out.append(0x20)
            last_blank = True
        else:
            out.append(c)
            last_blank = False
    if out and out[-1] == 0x20:
        del out[-1]
    if not out:
        return b'""'
    return literal(bytes(out))
