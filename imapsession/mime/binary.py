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

A value is first planned as pieces (octets, ranges of the message to copy,
ranges to decode), then produced by ``binary_chunks`` a piece at a time with
incremental decoders: the in-memory path joins it, a large stored message
streams it (``stream.StoredMessage``), and both follow the same rules.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator

from .headers import iter_fields
from .rfc822 import Tokenizer
from .structure import Part, fields_header, find_part, parse


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


def _decode(kind: str, body: bytes) -> bytes:
    decoder = _decoder(kind)
    return decoder.feed(body) + decoder.finish()


class _Identity:
    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class _Base64:
    """``decode_base64`` a chunk at a time: whole quanta are decoded, the rest waits."""

    def __init__(self):
        self.carry = b""
        self.padded = False

    def feed(self, data: bytes) -> bytes:
        compact = self.carry + data.translate(None, b" \t\r\n")
        if not compact:
            return b""
        if self.padded:
            raise BinaryDecodeError("base64 data after padding")
        cut = len(compact) - len(compact) % 4
        self.carry = compact[cut:]
        if not cut:
            return b""
        whole = compact[:cut] if cut < len(compact) else compact
        self.padded = whole.endswith(b"=")
        try:
            return binascii.a2b_base64(whole, strict_mode=True)
        except binascii.Error as exc:
            raise BinaryDecodeError(str(exc)) from exc

    def finish(self) -> bytes:
        if self.carry:
            raise BinaryDecodeError("base64 body ends inside a quantum")
        return b""


_QP_HOLD = 64 * 1024  # how much of an unfinished line a quoted-printable decoder holds


class _QuotedPrintable:
    """``decode_qp`` a chunk at a time: complete lines are decoded, the last one waits.

    Decoding text that ends in LF and then the rest gives what decoding
    both at once gives, so cutting after any LF changes nothing; inside a
    line longer than ``_QP_HOLD`` a cut is made where no escape, trailing
    blank or CR can be split (escapes are read left to right, so the part
    before the cut decodes as it would within the line).
    """

    def __init__(self):
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        data = self.carry + data if self.carry else data
        lf = data.rfind(b"\n")
        out = b""
        if lf >= 0:
            out = decode_qp(data[: lf + 1] if lf + 1 < len(data) else data)
            data = data[lf + 1 :]
        self.carry = data
        if len(data) > _QP_HOLD:
            # a long line: decode what cannot change, keeping back trailing blanks
            # and CR (the line's end may strip them) and an escape the cut would split
            cut = len(data)
            while cut > len(data) - 8 and cut > 0 and (
                    data[cut - 1] in (0x20, 0x09, 0x0D, 0x3D) or data[cut - 2 : cut - 1] == b"="):
                cut -= 1
            if 0 < cut > len(data) - 8:  # (a long run of blanks or "=" waits, whole)
                out += decode_qp(data[:cut])
                self.carry = data[cut:]
        return out

    def finish(self) -> bytes:
        return decode_qp(self.carry) if self.carry else b""


def _decoder(kind: str):
    if kind == _BASE64:
        return _Base64()
    if kind == _QP:
        return _QuotedPrintable()
    return _Identity()


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


# a piece of a BINARY value: octets as they are, a range (start, stop) of the
# message, or (encoding, start, stop), a range to decode
Piece = bytes | tuple[int, int] | tuple[str, int, int]


def _plan(msg, part: Part, include_header: bool, out: list[Piece], state: list[bool]) -> None:
    kind = _cte(fields_header(msg, part))
    if include_header:
        if kind in (_BASE64, _QP):
            out.append(_binary_header(part.header(msg)))
        else:
            out.append(part.header(msg))
    if part.children:
        pos = part.body_start
        for child in part.children:
            out.append((pos, child.header_start))
            _plan(msg, child, True, out, state)
            pos = child.body_end
        out.append((pos, part.body_end))
        return
    if kind != _IDENTITY and part.body_end > part.body_start:
        state[0] = True
    out.append((part.body_start, part.body_end) if kind == _IDENTITY
               else (kind, part.body_start, part.body_end))


def binary_plan(msg, part_path: tuple[int, ...], root: Part | None = None
                ) -> tuple[list[Piece], bool] | None:
    """The pieces of BINARY[part_path] and whether anything is decoded; None if missing.

    Raises ``UnknownCTE`` here, before anything is produced.
    """
    if root is None:
        root = parse(msg)
    state = [False]
    out: list[Piece] = []
    part = root if not part_path else find_part(root, part_path)
    if part is None:
        return None
    # Dovecot reads every encoding before decoding anything: an unknown one wins
    stack = [part]
    while stack:
        current = stack.pop()
        _cte(fields_header(msg, current))
        stack.extend(current.children)
    _plan(msg, part, not part_path, out, state)
    if not state[0]:
        # nothing was decoded: Dovecot sends the section exactly as stored
        return [(part.header_start if not part_path else part.body_start, part.body_end)], False
    return out, True


def _ranges(msg, start: int, stop: int) -> Iterator[bytes]:
    chunks = getattr(msg, "chunks", None)
    if chunks is not None:
        yield from chunks(start, stop)
    elif start < stop:
        yield msg[start:stop]


def binary_chunks(msg, pieces: list[Piece]) -> Iterator[bytes]:
    """The octets of planned pieces, a chunk at a time (``BinaryDecodeError`` on bad data)."""
    for piece in pieces:
        if type(piece) is bytes:
            if piece:
                yield piece
        elif len(piece) == 2:
            yield from _ranges(msg, piece[0], piece[1])
        else:
            decoder = _decoder(piece[0])
            for data in _ranges(msg, piece[1], piece[2]):
                out = decoder.feed(data)
                if out:
                    yield out
            tail = decoder.finish()
            if tail:
                yield tail


def _binary(msg: bytes, part_path: tuple[int, ...], root: Part | None) -> tuple[bytes, bool] | None:
    plan = binary_plan(msg, part_path, root)
    if plan is None:
        return None
    pieces, decoded = plan
    if not decoded:
        start, stop = pieces[0]  # type: ignore[misc]
        return msg[start:stop], False
    return b"".join(binary_chunks(msg, pieces)), True


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
