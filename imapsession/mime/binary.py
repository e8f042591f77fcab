"""RFC 3516 BINARY[...]: part bodies with their transfer encoding undone.

As Dovecot 2.3 does it: the encoding is the last Content-Transfer-Encoding
field of the part (MIME-Version or not); 7bit/8bit/binary bodies are sent
as they are, base64 and quoted-printable ones decoded, anything else raises
``UnknownCTE`` (Dovecot answers ``NO [UNKNOWN-CTE]``).  For a multipart or
message/rfc822 part the boundaries and headers stay and each leaf is
decoded; a decoded leaf's header loses its Content-Transfer-Encoding
fields and gains ``Content-Transfer-Encoding: binary`` before its blank line.
"""

from __future__ import annotations

import binascii

from .headers import iter_fields
from .rfc822 import Tokenizer
from .structure import Part, find_part, parse


class UnknownCTE(Exception):
    """The part's Content-Transfer-Encoding is not one BINARY can undo."""


_IDENTITY = "identity"
_BASE64 = "base64"
_QP = "qp"


def _cte(header: bytes) -> str:
    kind = _IDENTITY
    for name, value, _s, _e in iter_fields(header):
        if name.lower() == b"content-transfer-encoding":
            kind = _parse_cte(value)
    if kind == "unknown":
        raise UnknownCTE("Unknown Content-Transfer-Encoding.")
    return kind


def _parse_cte(value: bytes) -> str:
    tok = Tokenizer(value)
    tok.skip_lwsp()
    out = bytearray()
    if tok.mime_token(out) == 1:
        tok.skip_lwsp()
        if tok.peek() != 0x3B:
            return "unknown"
    token = bytes(out).lower()
    if token in (b"7bit", b"8bit", b"binary"):
        return _IDENTITY
    if token == b"base64":
        return _BASE64
    if token == b"quoted-printable":
        return _QP
    return "unknown"


def decode_qp(data: bytes) -> bytes:
    """Quoted-printable to octets; soft breaks joined, invalid escapes kept."""
    out = bytearray()
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if line.endswith(b"\r"):
            line = line[:-1]
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
        i = 0
        size = len(line)
        while i < size:
            c = line[i]
            if c == 0x3D and i + 2 < size + 0 and _is_hex(line[i + 1 : i + 3]):
                out.append(int(line[i + 1 : i + 3], 16))
                i += 3
            else:
                out.append(c)
                i += 1
        if not soft and not last:
            out += b"\r\n"
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789ABCDEFabcdef" for c in pair)


def decode_base64(data: bytes) -> bytes:
    return binascii.a2b_base64(data)


def _decode(kind: str, body: bytes) -> bytes:
    if kind == _BASE64:
        return decode_base64(body)
    if kind == _QP:
        return decode_qp(body)
    return body


def _binary_header(header: bytes) -> bytes:
    out = bytearray()
    blank = b""
    for name, _value, start, end in iter_fields(header):
        if name.lower() != b"content-transfer-encoding":
            out += header[start:end]
    rest = header[len(header.rstrip(b"\r\n")) :]
    if rest.endswith(b"\n") and (header in (b"\r\n", b"\n") or header.endswith((b"\n\r\n", b"\n\n"))):
        blank = b"\r\n"
    return bytes(out) + b"Content-Transfer-Encoding: binary\r\n" + blank


def _emit(msg: bytes, part: Part, include_header: bool, out: bytearray) -> None:
    kind = _cte(part.header(msg))
    if include_header:
        if kind in (_BASE64, _QP):
            out += _binary_header(part.header(msg))
        else:
            out += part.header(msg)
    if part.children:
        pos = part.body_start
        for child in part.children:
            out += msg[pos : child.header_start]
            _emit(msg, child, True, out)
            pos = child.body_end
        out += msg[pos : part.body_end]
        return
    out += _decode(kind, part.body(msg))


def binary(msg: bytes, part_path: tuple[int, ...], root: Part | None = None) -> bytes | None:
    """BINARY[part_path] octets (before <partial>); None when the part is missing."""
    if root is None:
        root = parse(msg)
    if not part_path:
        out = bytearray()
        _emit(msg, root, True, out)
        return bytes(out)
    part = find_part(root, part_path)
    if part is None:
        return None
    out = bytearray()
    _emit(msg, part, False, out)
    return bytes(out)


def binary_size(msg: bytes, part_path: tuple[int, ...], root: Part | None = None) -> int | None:
    """BINARY.SIZE[part_path], or None when the part is missing."""
    data = binary(msg, part_path, root)
    return None if data is None else len(data)
