"""Cutting the client's byte stream into whole commands (sans-I/O).

Theory of operation
-------------------
A command is one or more lines; a line that ends in ``{n}`` or ``{n+}`` is
followed by ``n`` octets of literal and then the rest of the command. The
framer is fed bytes and yields events:

* ``Frame``: one complete command as its line segments and literals, for the
  grammar to parse;
* ``LineTooLong`` / ``Rejected``: the command could not be framed; the session
  answers it and framing resumes at the next command (a ``Rejected`` that is
  ``fatal`` ends the session instead).

Before a literal is read the framer asks a ``LiteralPolicy`` (the session)
whether to accept it: for a synchronising literal the ``+`` continuation goes out
only after acceptance, and a refusal is answered before the client sends a
single literal octet. A literal may be accepted into memory or into a sink (a
spool file for APPEND), so large messages never sit in RAM. A refused
non-synchronising literal is read and thrown away (RFC 7888 section 4), with the
rest of its command, never parsed as commands; the answer goes out once the
command has ended. What one command may make us throw away is capped
(``max_discard``): a refusal that would need more ends the session at once, so a
declared ``{4294967295+}`` is not waited for. Discarding holds no more memory
than one read. Past ``max_literals`` literals in one command the rest of the
command is discarded the same way (CVE-2024-34055: no state per literal).

A bare LF ends a line as CRLF does: people type commands by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import attrs

_LITERAL_AT_END = re.compile(rb"\{(\d{1,10})(\+?)\}\Z")
_TAG = re.compile(rb"[\x21\x23\x24\x26\x27\x2C-\x5B\x5D-\x7A\x7C\x7E]+")
MAX_LITERALS_PER_COMMAND = 1000
MAX_DISCARD = 4 * 100 * 1024 * 1024  # protocol/limits.py says why
LITERAL_PAST_CAP = b"* BYE [TOOBIG] Literal too large\r\n"
INPUT_PAST_CAP = b"* BYE [LIMIT] Too much input to discard\r\n"


class LiteralSink(Protocol):
    """Where a streamed literal goes (``storage.base.SpoolFile`` fits)."""

    def write(self, chunk: bytes) -> None: ...

    def discard(self) -> None: ...


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
    fatal: bool = False  # True: the session must end now, nothing is discarded


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
                 max_command: int = 1024 * 1024, max_literals: int = MAX_LITERALS_PER_COMMAND,
                 max_discard: int = MAX_DISCARD):
        self._policy = policy
        self._max_line = max_line
        self._max_command = max_command  # in-memory octets of one command, all lines and literals
        self._max_literals = max_literals
        self._max_discard = max_discard  # octets of one command read and thrown away
        self._dropped = 0  # octets of the current command thrown away so far
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
        event = self._next_event()
        if event is not None:
            self._dropped = 0  # the command is answered: the next one has its own cap
        return event

    def _next_event(self) -> Frame | Rejected | LineTooLong | None:
        while True:
            if self._literal_left:
                if not self._consume_literal():
                    return None
                if self._discarding_literal:
                    # the rest of the command follows the literal: throw it away too
                    self._discarding_literal = False
                    self._skipping_line = True
                continue
            if self._skipping_line:
                event = self._skip_line()
                if event is None:
                    return None
                if event is _LINE_SKIPPED:
                    continue
                return event
            line = self._take_line()
            if line is _LINE_SKIPPED:
                continue
            if isinstance(line, (LineTooLong, Rejected)):
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
                self._drop_command()
                if self._drop(self._max_line):
                    return self._fatal(INPUT_PAST_CAP)
                continue
            event = self._after_line(line)
            if event is not None:
                return event

    # --- internals -----------------------------------------------------------------

    def _take_line(self) -> bytes | LineTooLong | Rejected | _Skipped | None:
        """A whole line (its CRLF removed), None for more input, or what replaces it.

        A line over the limit is a ``LineTooLong``; if it ends in a non-sync literal,
        that literal and the rest of the command are discarded first (``_LINE_SKIPPED``)
        or, past the cap, the session ends (a fatal ``Rejected``).
        """
        end = self._buffer.find(b"\n", 0, self._max_line + 2)
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) <= self._max_line:
            return line
        self._drop_command()
        self._drop(len(line))
        match = _LITERAL_AT_END.search(line)
        if match and match.group(2):  # its non-sync literal follows: throw it away
            size = int(match.group(1))
            if self._drop(size):
                return self._past_cap(size)
            self._literal_left = size
            self._discarding_literal = True
            self._refused = None
            self._skipped_head = line[:200]
            return _LINE_SKIPPED
        return LineTooLong(line[:200])

    def _drop(self, count: int) -> bool:
        """Count ``count`` octets thrown away; True when that passes the cap."""
        self._dropped += count
        return self._dropped > self._max_discard

    def _past_cap(self, size: int) -> Rejected:
        """A literal of ``size`` would pass the cap: TOOBIG alone, LIMIT with the rest."""
        return self._fatal(LITERAL_PAST_CAP if size > self._max_discard else INPUT_PAST_CAP)

    def _fatal(self, response: bytes) -> Rejected:
        """End the session: stop reading this command (nothing more is discarded)."""
        self._literal_left = 0
        self._discarding_literal = False
        self._skipping_line = False
        self._refused = None
        self._skipped_tail = b""
        self._drop_command()
        return Rejected(response, fatal=True)

    def _drop_command(self) -> None:
        """Forget the command so far; a spooled literal in it will not be used."""
        for literal in self._literals:
            if not isinstance(literal, bytes):
                literal.discard()
        if self._literal_sink is not None:
            self._literal_sink.discard()
            self._literal_sink = None
        self._new_command()

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
        tag = _tag(self._segments[0])
        if len(self._literals) >= self._max_literals:
            return self._refuse(
                Refuse(tag + b" BAD [LIMIT] Too many literals in one command\r\n"),
                size, synchronising)
        head = self._segments[0] + b"\r\n"  # constant work per literal, however many
        decision = self._policy(
            LiteralRequest(head, size, synchronising, len(self._literals))
        )
        if isinstance(decision, Accept) and decision.sink is None:
            if self._held + size > self._max_command:
                decision = Refuse(tag + b" BAD [LIMIT] Command is too large\r\n")
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
        self._drop_command()
        if synchronising or decision.fatal:
            # a synchronising client sends nothing more of this command
            return Rejected(decision.response, decision.fatal)
        if self._drop(size):
            return self._past_cap(size)
        self._literal_left = size
        self._discarding_literal = True
        self._refused = decision
        self._skipped_head = b""
        return None

    def _consume_literal(self) -> bool:
        """Move buffered octets into the current literal; True when it is complete."""
        take = min(self._literal_left, len(self._buffer))
        if take:
            chunk = b"" if self._discarding_literal else bytes(self._buffer[:take])
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
            dropped = len(self._buffer)
            del self._buffer[:]
            return self._fatal(INPUT_PAST_CAP) if self._drop(dropped) else None
        self._skipped_tail = (self._skipped_tail + bytes(self._buffer[:end]))[-32:]
        del self._buffer[: end + 1]
        if self._drop(end + 1):
            return self._fatal(INPUT_PAST_CAP)
        tail = self._skipped_tail.rstrip(b"\r")
        self._skipped_tail = b""
        match = _LITERAL_AT_END.search(tail)
        if match and match.group(2):
            size = int(match.group(1))
            if self._drop(size):
                return self._past_cap(size)
            self._literal_left = size
            self._discarding_literal = True
            return _LINE_SKIPPED
        self._skipping_line = False
        if self._refused is not None:
            refused, self._refused = self._refused, None
            return Rejected(refused.response, refused.fatal)
        return LineTooLong(self._skipped_head)


def _tag(line: bytes) -> bytes:
    """The command's tag for a framing refusal, ``*`` when it has none we could echo."""
    tag = line.split(b" ", 1)[0]
    return tag if _TAG.fullmatch(tag) else b"*"


class _Skipped:
    """A marker: input was consumed and there is nothing to answer yet."""


_LINE_SKIPPED = _Skipped()


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
