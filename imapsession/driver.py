"""The only place that does blocking I/O: stdin to the session, the session to stdout."""

from __future__ import annotations

import os
import select
import time

from imapsession.session import Session

READ_SIZE = 64 * 1024
IDLE_POLL_SECONDS = 2.0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run(session: Session, in_fd: int = 0, out_fd: int = 1,
        autologout_seconds: float = 30 * 60, greeted: bool = False) -> int:
    """Serve one session until LOGOUT, BYE or end of input; returns the exit status.

    ``greeted``: the caller already sent the greeting (before the heavy imports).
    """
    from imapsession.commands import idle

    if not greeted:
        _write_all(out_fd, session.greeting())
    session.output_sink = lambda data: _write_all(out_fd, data)
    last_input = time.monotonic()
    bytes_in = 0
    try:
        while not session.finished:
            timeout = IDLE_POLL_SECONDS if session.idling is not None else 60.0
            ready, _, _ = select.select([in_fd], [], [], timeout)
            if not ready:
                if session.idling is not None:
                    _write_all(out_fd, idle.tick(session))
                if time.monotonic() - last_input > autologout_seconds:
                    _write_all(out_fd, session.bye("Autologout; idle for too long"))
                    break
                continue
            data = os.read(in_fd, READ_SIZE)
            if not data:
                break
            bytes_in += len(data)
            last_input = time.monotonic()
            out = session.receive(data)
            if out:
                _write_all(out_fd, out)
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        session.leave_selected()
    return 0
