"""The parser target: framing and grammar, valid commands round-trip, broken ones only fail.

Properties: for a valid command, framing then parsing its encoding gives the
command back; for any byte string, the framer and the grammar yield only frames,
their own rejections and ``ParseError`` (no other exception, no hang).
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from fuzz import strategies as fst
from fuzz.wire import Encoder
from imapsession.protocol import framing
from imapsession.protocol.command import Command
from imapsession.protocol.grammar import ParseError, parse_command


def _accept_all(request: framing.LiteralRequest):
    if request.size > 1024 * 1024:
        return framing.Refuse(b"* BAD too large\r\n", fatal=not request.synchronising)
    return framing.Accept()


def encode(command: Command, rng: random.Random) -> bytes:
    return Encoder(random.Random(rng.random())).command(command)


def frames(data: bytes) -> list:
    framer = framing.Framer(_accept_all)
    framer.feed(data)
    events = []
    for _ in range(100000):
        event = framer.next_event()
        if event is None:
            return events
        events.append(event)
    raise AssertionError("framer does not stop producing events")


def check_roundtrip(command: Command, rng: random.Random) -> None:
    data = encode(command, rng)
    events = frames(data)
    if len(events) != 1 or not isinstance(events[0], framing.Frame):
        raise AssertionError(f"{data!r} framed as {events!r}")
    try:
        parsed = parse_command(events[0])
    except ParseError as exc:
        raise AssertionError(f"valid command {data!r} refused: {exc.text}") from None
    if parsed != command:
        raise AssertionError(f"{data!r} parsed as {parsed!r}, not {command!r}")


def check_broken(data: bytes) -> None:
    for event in frames(data):
        if isinstance(event, framing.Frame):
            try:
                result = parse_command(event)
            except ParseError:
                continue
            if not isinstance(result, Command):
                raise AssertionError(f"parser yielded {result!r}")
        elif not isinstance(event, (framing.Rejected, framing.LineTooLong)):
            raise AssertionError(f"framer yielded {event!r}")
        elif isinstance(event, framing.Rejected) and not event.response.endswith(b"\r\n"):
            raise AssertionError(f"rejection is not a whole response line: {event.response!r}")


def encoded_commands() -> st.SearchStrategy[bytes]:
    return st.builds(lambda c, r: Encoder(random.Random(r)).command(c), fst.commands(),
                     st.integers(0, 2**32))


def check_reencoded(data: bytes) -> None:
    """A saved round-trip case: its bytes parse, and the command they parse to round-trips."""
    events = frames(data)
    if len(events) != 1 or not isinstance(events[0], framing.Frame):
        raise AssertionError(f"{data!r} framed as {events!r}")
    try:
        parsed = parse_command(events[0])
    except ParseError as exc:
        raise AssertionError(f"valid command {data!r} refused: {exc.text}") from None
    check_roundtrip(parsed, random.Random(0))
