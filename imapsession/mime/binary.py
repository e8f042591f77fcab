"""RFC 3516 BINARY[...]: part bodies with their transfer encoding undone.

As Dovecot 2.3 does it: the encoding is the last Content-Transfer-Encoding
field of the part (MIME-Version or not); 7bit/8bit/binary bodies are sent
as they are, base64 and quoted-printable ones decoded, anything else raises
``UnknownCTE`` (Dovecot answers ``NO [UNKNOWN-CTE]``).  For a multipart or
message/rfc822 part the boundaries and headers stay and each leaf is
decoded (``BinaryDecodeError`` when the encoding is broken); a decoded
leaf's header loses its Content-Transfer-Encoding
fields and gains ``Content-Transfer-Encoding: binary`` before its blank line.
When nothing in the section needed decoding, the stored octets are sent
unchanged (headers included).
"""

from __future__ import annotations

import binascii

from .headers import iter_fields
from .rfc822 import Tokenizer
from .structure import Part, find_part, parse


class UnknownCTE(Exception):
    """The part's Content-Transfer-Encoding is not one BINARY can undo."""


class BinaryDecodeError(ValueError):
    """The body is not valid base64 / quoted-printable.

    Dovecot answers ``NO [PARSE] Invalid data in MIME part``; for a body cut
    off in the middle of an encoded unit it even drops the connection with
    ``* BYE ... Internal error`` (we raise this error then as well).
    """


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
    """Quoted-printable to octets, as strictly as Dovecot's decoder.

    Trailing blanks on a line go, ``=`` at a line end joins lines, ``=XX``
    (either case) is an octet; any other ``=``, or a bare CR, is an error.
    """
    out = bytearray()
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        if not last and line.endswith(b"\r"):
            line = line[:-1]
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
            if last:
                raise BinaryDecodeError("quoted-printable body ends inside an escape")
        if b"\r" in line:
            raise BinaryDecodeError("bare CR in quoted-printable body")
        i = 0
        size = len(line)
        while True:
            eq = line.find(b"=", i)
            if eq < 0:
                out += line[i:]
                break
            out += line[i:eq]
            pair = line[eq + 1 : eq + 3]
            if not _is_hex(pair):
                if last and eq + 1 + len(pair) == size and all(c in _HEX for c in pair):
                    raise BinaryDecodeError("quoted-printable body ends inside an escape")
                raise BinaryDecodeError("invalid escape in quoted-printable body")
            out.append(int(pair, 16))
            i = eq + 3
        if not soft and not last:
            out += b"\r\n"
    return bytes(out)


_HEX = b"0123456789ABCDEFabcdef"


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in _HEX for c in pair)


def decode_base64(data: bytes) -> bytes:
    """Base64 to octets; blanks and line ends are skipped, anything else must be exact."""
    compact = data.translate(None, b" \t\r\n")
    if len(compact) % 4:
        raise BinaryDecodeError("base64 body ends inside a quantum")
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error as exc:
        raise BinaryDecodeError(str(exc)) from exc


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


def _emit(msg: bytes, part: Part, include_header: bool, out: bytearray, state: list[bool]) -> None:
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
            _emit(msg, child, True, out, state)
            pos = child.body_end
        out += msg[pos : part.body_end]
        return
    if kind != _IDENTITY and part.body_end > part.body_start:
        state[0] = True
    out += _decode(kind, part.body(msg))


def _binary(msg: bytes, part_path: tuple[int, ...], root: Part | None) -> tuple[bytes, bool] | None:
    if root is None:
        root = parse(msg)
    state = [False]
    out = bytearray()
    part = root if not part_path else find_part(root, part_path)
    if part is None:
        return None
    # Dovecot reads every encoding before decoding anything: an unknown one wins
    stack = [part]
    while stack:
        current = stack.pop()
        _cte(current.header(msg))
        stack.extend(current.children)
    _emit(msg, part, not part_path, out, state)
    if not state[0]:
        # nothing was decoded: Dovecot sends the section exactly as stored
        return msg[part.header_start if not part_path else part.body_start : part.body_end], False
    return bytes(out), True


def binary(msg: bytes, part_path: tuple[int, ...], root: Part | None = None) -> bytes | None:
    """BINARY[part_path] octets (before <partial>); None when the part is missing.

    ``()`` is the whole message (BINARY[]).  NUL octets are kept; see
    ``binary_is_literal8`` for how to send the result.
    """
    result = _binary(msg, part_path, root)
    return None if result is None else result[0]


def binary_size(msg: bytes, part_path: tuple[int, ...], root: Part | None = None) -> int | None:
    """BINARY.SIZE[part_path], or None when the part is missing.

    This is the number of octets BINARY[] sends.  (Dovecot 2.3.19 reports a
    smaller number for decoded parts of LF-stored messages; see the tests.)
    """
    data = binary(msg, part_path, root)
    return None if data is None else len(data)


def binary_is_literal8(msg: bytes, part_path: tuple[int, ...], root: Part | None = None) -> bool:
    """Whether BINARY[part_path] goes out as ``~{n}`` (literal8) rather than ``{n}``.

    Dovecot uses literal8 when it decoded a base64/quoted-printable body or
    the octets contain NUL; otherwise a plain literal.
    """
    result = _binary(msg, part_path, root)
    return result is not None and (result[1] or b"\0" in result[0])
