"""Cutting the client's byte stream into whole commands (sans-I/O).

Theory of operation
-------------------
A command is one or more lines; a line that ends in ``{n}`` or ``{n+}`` is
followed by ``n`` octets of literal and then the rest of the command. The
framer is fed bytes and yields events:

* ``Frame``: one complete command as its line segments and literals, for the
  grammar to parse;
* ``LineTooLong`` / ``LiteralRefused`` / ``Fatal``: the command could not be
  framed; the session answers it and framing resumes at the next command.

Before a literal is read the framer asks a ``LiteralPolicy`` (the session)
whether to accept it: for a synchronising literal the ``+`` continuation goes out
only after acceptance, and a refusal is answered before the client sends a
single literal octet. A literal may be accepted into memory or into a sink (a
spool file for APPEND), so large messages never sit in RAM. Refused
non-synchronising literals are read and thrown away (RFC 7888 section 4), never
parsed as commands.

A bare LF ends a line as CRLF does: people type commands by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import attrs

_LITERAL_AT_END = re.compile(rb"\{(\d{1,10})(\+?)\}\Z")
MAX_LITERALS_PER_COMMAND = 1000


class LiteralSink(Protocol):
    """Where a streamed literal goes (``storage.base.SpoolFile`` fits)."""

    def write(self, chunk: bytes) -> None: ...


@attrs.frozen
class LiteralRequest:
    """What the policy is asked: the command so far and the announced literal."""

    head: bytes  # the command's first line (tag, name and, for APPEND, the mailbox)
    size: int
    synchronising: bool
    index: int  # 0 for the command's first literal


@attrs.frozen
class Accept:
    sink: LiteralSink | None = None  # None: keep the literal in memory


@attrs.frozen
class Refuse:
    """Refuse the literal; ``response`` answers the command (tagged BAD or NO)."""

    response: bytes
    fatal: bool = False  # True: the session must end (e.g. * BYE [TOOBIG])


LiteralPolicy = Callable[[LiteralRequest], "Accept | Refuse"]


@attrs.frozen
class Frame:
    """A whole command: ``segments[i]`` is followed by ``literals[i]``."""

    segments: tuple[bytes, ...]
    literals: tuple[object, ...]  # bytes, or the sink the policy handed out


@attrs.frozen
class Rejected:
    """A command that could not be framed; ``response`` is already its answer."""

    response: bytes
    fatal: bool = False


@attrs.frozen
class LineTooLong:
    """A line over the limit; ``head`` is its start, for finding a tag."""

    head: bytes


class Framer:
    """Incremental command framer; see the module docstring."""

    def __init__(self, policy: LiteralPolicy, max_line: int = 64 * 1024,
                 max_command: int = 1024 * 1024):
        self._policy = policy
        self._max_line = max_line
        self._max_command = max_command  # in-memory octets of one command, all lines and literals
        self._buffer = bytearray()
        self._segments: list[bytes] = []
        self._literals: list[object] = []
        self._held = 0  # octets of this command held in memory (lines and literals)
        self._literal_left = 0  # octets of the current literal still to read
        self._literal_parts: list[bytes] | None = None  # in-memory literal
        self._literal_sink: LiteralSink | None = None
        self._discarding_literal = False  # reading a refused non-sync literal
        self._refused: Refuse | None = None  # answer owed once the discard ends
        self._skipping_line = False  # throwing away the rest of a too-long line
        self._skipped_head = b""
        self._skipped_tail = b""
        self.continuations: list[bytes] = []  # "+ " lines the driver must send

    @property
    def idle(self) -> bool:
        """True between commands: nothing partial is buffered."""
        return (
            not self._buffer
            and not self._segments
            and not self._literal_left
            and not self._skipping_line
        )

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take_buffer(self) -> bytes:
        """Hand back unread input (between commands), e.g. what follows IDLE."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def next_event(self) -> Frame | Rejected | LineTooLong | None:
        """The next complete event, or None when more bytes are needed."""
        while True:
            if self._literal_left:
                if not self._consume_literal():
                    return None
                if self._discarding_literal:
                    self._discarding_literal = False
                    if self._refused is not None:
                        # keep discarding the rest of the command, then answer
                        self._new_command()
                        self._skipping_line = True
                        self._skipped_head = b""
                    continue
                continue
            if self._skipping_line:
                event = self._skip_line()
                if event is None:
                    return None
                if event is _LINE_SKIPPED:
                    continue
                return event
            line = self._take_line()
            if isinstance(line, LineTooLong):
                return line
            if line is None:
                if len(self._buffer) <= self._max_line:
                    return None
                # no line end within the limit: drop what we have and skip to it
                self._skipping_line = True
                self._skipped_head = bytes(self._buffer[:200])
                self._skipped_tail = bytes(self._buffer[self._max_line - 32:self._max_line])
                del self._buffer[:self._max_line]
                self._refused = None
                self._new_command()
                continue
            event = self._after_line(line)
            if event is not None:
                return event

    # --- internals -----------------------------------------------------------------

    def _take_line(self) -> bytes | LineTooLong | None:
        end = self._buffer.find(b"\n", 0, self._max_line + 2)
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) <= self._max_line:
            return line
        self._new_command()
        match = _LITERAL_AT_END.search(line)
        if match and match.group(2):  # its non-sync literal follows: throw it away
            self._literal_left = int(match.group(1))
            self._discarding_literal = True
        return LineTooLong(line[:200])

    def _new_command(self) -> None:
        self._segments = []
        self._literals = []
        self._held = 0

    def _after_line(self, line: bytes) -> Frame | Rejected | None:
        match = _LITERAL_AT_END.search(line)
        if not match:
            segments = (*self._segments, line)
            literals = tuple(self._literals)
            self._new_command()
            return Frame(segments, literals)
        size = int(match.group(1))
        synchronising = not match.group(2)
        self._segments.append(line)
        self._held += len(line)
        if len(self._literals) >= MAX_LITERALS_PER_COMMAND:
            # a whole response line: tagged BAD, or BYE when a non-sync literal ends the session
            tag = self._segments[0].split(b" ", 1)[0]
            if not re.fullmatch(rb"[\x21\x23\x24\x26\x27\x2C-\x5B\x5D-\x7A\x7C\x7E]+", tag):
                tag = b"*"
            text = b"Too many literals in one command\r\n"
            response = tag + b" BAD " + text if synchronising else b"* BYE " + text
            return self._refuse(Refuse(response, fatal=not synchronising), size, synchronising)
        head = self._segments[0] + b"\r\n"  # constant work per literal, however many
        decision = self._policy(
            LiteralRequest(head, size, synchronising, len(self._literals))
        )
        if isinstance(decision, Accept) and decision.sink is None:
            if self._held + size > self._max_command:
                tag = head.split(b" ", 1)[0] if b" " in head else b"*"
                decision = Refuse(tag + b" BAD Command is too large\r\n",
                                  fatal=not synchronising and size > self._max_command)
        if isinstance(decision, Refuse):
            return self._refuse(decision, size, synchronising)
        self._literal_left = size
        self._literal_sink = decision.sink
        self._literal_parts = None if decision.sink is not None else []
        if synchronising:
            self.continuations.append(b"+ OK\r\n")
        if size == 0:
            self._finish_literal()
        return None

    def _refuse(self, decision: Refuse, size: int, synchronising: bool) -> Rejected | None:
        self._new_command()
        if synchronising or decision.fatal:
            # a synchronising client sends nothing more of this command
            return Rejected(decision.response, decision.fatal)
        self._literal_left = size
        self._discarding_literal = True
        self._refused = decision
        return None

    def _consume_literal(self) -> bool:
        """Move buffered octets into the current literal; True when it is complete."""
        take = min(self._literal_left, len(self._buffer))
        if take:
            chunk = bytes(self._buffer[:take])
            del self._buffer[:take]
            self._literal_left -= take
            if not self._discarding_literal:
                if self._literal_sink is not None:
                    self._literal_sink.write(chunk)
                elif self._literal_parts is not None:
                    self._literal_parts.append(chunk)
        if self._literal_left:
            return False
        if not self._discarding_literal:
            self._finish_literal()
        return True

    def _finish_literal(self) -> None:
        if self._literal_sink is not None:
            self._literals.append(self._literal_sink)
        else:
            literal = b"".join(self._literal_parts or [])
            self._held += len(literal)
            self._literals.append(literal)
        self._literal_sink = None
        self._literal_parts = None

    def _skip_line(self):
        """Discard up to the end of the current line; a trailing non-sync literal too."""
        end = self._buffer.find(b"\n")
        if end < 0:
            if self._buffer:
                self._skipped_tail = (self._skipped_tail + bytes(self._buffer[-32:]))[-32:]
            del self._buffer[:]
            return None
        self._skipped_tail = (self._skipped_tail + bytes(self._buffer[:end]))[-32:]
        del self._buffer[: end + 1]
        tail = self._skipped_tail.rstrip(b"\r")
        self._skipped_tail = b""
        match = _LITERAL_AT_END.search(tail)
        if match and match.group(2):
            self._literal_left = int(match.group(1))
            self._discarding_literal = True
            return _LINE_SKIPPED
        self._skipping_line = False
        if self._refused is not None:
            refused, self._refused = self._refused, None
            return Rejected(refused.response, refused.fatal)
        return LineTooLong(self._skipped_head)


_LINE_SKIPPED = object()


class ContinuationTooLong(ValueError):
    """A line sent while a command waits grew past its limit without ending."""


def continuation_line(buffered: bytes, data: bytes, limit: int) -> tuple[bytes | None, bytes]:
    """One client line sent while a command waits (IDLE's DONE, a SASL response).

    Returns ``(line, rest)`` once the line is complete (its CRLF or LF removed),
    ``(None, kept)`` while it is not; raises ``ContinuationTooLong`` past ``limit``.
    """
    buffer = buffered + data
    end = buffer.find(b"\n")
    if end < 0:
        if len(buffer) > limit:
            raise ContinuationTooLong(f"line longer than {limit} octets")
        return None, buffer
    return buffer[:end].rstrip(b"\r"), buffer[end + 1:]
