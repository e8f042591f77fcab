"""IDLE (RFC 2177): updates flow while the client waits; DONE ends it."""

from __future__ import annotations

from imapsession.protocol.command import Command
from imapsession.protocol.framing import ContinuationTooLong, continuation_line
from imapsession.session import Done, Session, bad, ok

MAX_IDLE_LINE = 1024


def handle_idle(session: Session, command: Command) -> Done | None:
    session.idling = command
    session.idle_buffer = b""
    session.send(b"+ idling\r\n")
    return None  # completed by consume() when DONE arrives


def consume(session: Session, data: bytes) -> bytes:
    """Read client bytes while idling; return what follows DONE for normal parsing."""
    try:
        line, rest = continuation_line(session.idle_buffer, data, MAX_IDLE_LINE)
    except ContinuationTooLong:
        _stop(session, bad("Expected DONE."))
        return b""
    if line is None:
        session.idle_buffer = rest
        return b""
    _stop(session, ok("Idle completed.") if line.upper() == b"DONE" else bad("Expected DONE."))
    return rest


def _stop(session: Session, done: Done) -> None:
    command = session.idling
    session.idling = None
    session.idle_buffer = b""
    session.finish(command, done)


def tick(session: Session) -> bytes:
    """Called by the driver now and then while idling: push what changed."""
    if session.idling is None or session.view is None:
        return b""
    for line in session.view.refresh(allow_expunge=True):
        session.send(line)
    return session.take_output()
