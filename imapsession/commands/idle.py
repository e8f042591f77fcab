"""IDLE (RFC 2177): updates flow while the client waits; DONE ends it."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, bad, ok
from imapsession.protocol.command import Command
from imapsession.protocol.framing import ContinuationTooLong, continuation_line

MAX_IDLE_LINE = 1024


def handle_idle(session: HandlerSession, command: Command) -> Done | None:
    session.take_over_input(command)
    session.send(b"+ idling\r\n")
    return None  # completed by consume() when DONE arrives


def consume(session: HandlerSession, data: bytes) -> bytes:
    """Read client bytes while idling; return what follows DONE for normal parsing."""
    try:
        line, rest = continuation_line(session.input_owner_buffer, data, MAX_IDLE_LINE)
    except ContinuationTooLong:
        _stop(session, bad("Expected DONE."))
        return b""
    if line is None:
        session.input_owner_buffer = rest
        return b""
    _stop(session, ok("Idle completed.") if line.upper() == b"DONE" else bad("Expected DONE."))
    return rest


def _stop(session: HandlerSession, done: Done) -> None:
    session.finish(session.release_input(), done)


def idling(session: HandlerSession) -> bool:
    """Whether IDLE is running: the driver then calls ``tick`` every few seconds."""
    owner = session.input_owner
    return owner is not None and owner.name == "IDLE"


def tick(session: HandlerSession) -> bytes:
    """Called by the driver now and then while idling: push what changed."""
    if not idling(session) or session.view is None:
        return b""
    for line in session.view.refresh(allow_expunge=True):
        session.send(line)
    return session.take_output()
