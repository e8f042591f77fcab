"""The session's last commands, kept as replayable client bytes with secrets hidden."""

from __future__ import annotations

from collections import deque

from imapsession.observe.redact import HIDDEN, SECRET_COMMANDS, command_name, redact_command_line

KEEP_COMMANDS = 50
KEEP_LITERAL = 64 * 1024  # larger literals (APPEND messages) are replaced by a note


def frame_bytes(segments: tuple[bytes, ...], literals: tuple[object, ...]) -> bytes:
    """One framed command back as wire bytes, credentials and large literals replaced.

    Literal counts are rewritten to match what is written, so the result parses.
    """
    secret = command_name(segments[0]) in SECRET_COMMANDS
    out = bytearray()
    for index, segment in enumerate(segments):
        line = redact_command_line(segment) if index == 0 and secret else segment
        if index < len(literals):
            literal = literals[index]
            if secret:
                body = HIDDEN
            elif isinstance(literal, bytes) and len(literal) <= KEEP_LITERAL:
                body = literal
            else:
                size = len(literal) if isinstance(literal, bytes) else getattr(literal, "size", 0)
                body = b"<literal of %d octets not kept>" % size
            head, _, _ = line.rpartition(b"{")
            out += head + b"{%d}\r\n" % len(body) + body
        else:
            out += line + b"\r\n"
    return bytes(out)


class Transcript:
    """The last ``KEEP_COMMANDS`` commands."""

    def __init__(self) -> None:
        self.entries: deque[bytes] = deque(maxlen=KEEP_COMMANDS)

    def add(self, segments: tuple[bytes, ...], literals: tuple[object, ...]) -> None:
        self.entries.append(frame_bytes(segments, literals))
