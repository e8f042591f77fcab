"""What the pre-login child sends its root parent over a pipe, and the answer.

Length-prefixed fields with hard limits: the parent is root, and the child has
spoken to the network, so the parent reads it as it would read the network.
"""

from __future__ import annotations

import os
import struct

import attrs

MAX_FIELD = 8 * 1024
MAX_LEFTOVER = 1024 * 1024
_HEADER = struct.Struct(">I")

# verdicts, parent -> child
FAILED = b"N"
FAILED_FINAL = b"B"  # the last allowed failure: the child says BYE


class RequestError(ValueError):
    """The child's message is malformed or too large."""


@attrs.frozen(repr=False)
class LoginRequest:
    tag: str
    method: str  # "LOGIN" or "PLAIN"
    user: bytes
    password: bytes = attrs.field(repr=False)
    authzid: bytes = b""

    def __repr__(self) -> str:
        return f"LoginRequest(tag={self.tag!r}, method={self.method!r}, user={self.user!r})"


def encode(request: LoginRequest, leftover: bytes) -> bytes:
    fields = (request.tag.encode(), request.method.encode(), request.user,
              request.password, request.authzid, leftover)
    return b"".join(_HEADER.pack(len(field)) + field for field in fields)


def _read_exact(fd: int, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read(fd: int) -> tuple[LoginRequest, bytes] | None:
    """The next request and the unconsumed client bytes; None at end of file."""
    fields: list[bytes] = []
    for index in range(6):
        header = _read_exact(fd, _HEADER.size)
        if header is None:
            if index == 0:
                return None
            raise RequestError("truncated request")
        (size,) = _HEADER.unpack(header)
        if size > (MAX_LEFTOVER if index == 5 else MAX_FIELD):
            raise RequestError("request field too large")
        data = _read_exact(fd, size)
        if data is None:
            raise RequestError("truncated request")
        fields.append(data)
    tag, method, user, password, authzid, leftover = fields
    try:
        text_tag, text_method = tag.decode("ascii"), method.decode("ascii")
    except UnicodeDecodeError:
        raise RequestError("bad tag or method") from None
    if text_method not in ("LOGIN", "PLAIN"):
        raise RequestError("bad method")
    return LoginRequest(text_tag, text_method, user, password, authzid), leftover
