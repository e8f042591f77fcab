"""The only place that does blocking I/O: stdin to the session, the session to stdout."""

from __future__ import annotations

import logging
import os
import select

from imapsession import clock
from imapsession.session import Session

READ_SIZE = 64 * 1024
IDLE_POLL_SECONDS = 2.0
log = logging.getLogger("imapsession")


class _Counters:
    bytes_in = 0
    bytes_out = 0


def run(session: Session, in_fd: int = 0, out_fd: int = 1,
        autologout_seconds: float = 30 * 60, greeted: bool = False,
        rawlog=None, initial: bytes = b"") -> int:
    """Serve one session until LOGOUT, BYE or end of input; returns the exit status.

    ``greeted``: the caller already sent the greeting. ``rawlog``: an
    ``observe.rawlog.RawLog`` that sees every byte in and out. ``initial``:
    client bytes already read (pipelined after a LOGIN), handled first.
    """
    counters = _Counters()

    def write(data: bytes) -> None:
        if not data:
            return
        if rawlog is not None:
            rawlog.server(data)
        counters.bytes_out += len(data)
        view = memoryview(data)
        while view:
            view = view[os.write(out_fd, view):]

    session.output_sink = write
    if not greeted:
        write(session.greeting())
    from imapsession.commands import idle  # after the greeting: it need not wait for this

    last_input = clock.monotonic()
    reason = "Connection closed"
    try:
        if initial:
            counters.bytes_in += len(initial)
            write(session.receive(initial))
        while not session.finished:
            # wake up in time for the autologout, and every few seconds while idling
            timeout = max(0.0, last_input + autologout_seconds - clock.monotonic())
            if idle.idling(session):
                timeout = min(timeout, IDLE_POLL_SECONDS)
            ready, _, _ = select.select([in_fd], [], [], timeout)
            if not ready:
                if idle.idling(session):
                    write(idle.tick(session))
                if clock.monotonic() - last_input >= autologout_seconds:
                    write(session.bye("Autologout; idle for too long"))
                    reason = "Autologged out"
                    break
                continue
            data = os.read(in_fd, READ_SIZE)
            if not data:
                break
            counters.bytes_in += len(data)
            if rawlog is not None:
                rawlog.client(data)
            last_input = clock.monotonic()
            write(session.receive(data))
        else:
            reason = "Logged out" if session.exit_status == 0 else "Internal error"
    except (BrokenPipeError, ConnectionResetError):
        reason = "Connection reset"
    except Exception:  # noqa: BLE001 - a driver failure: the session cannot be trusted
        log.exception("Internal error in the driver")
        session.exit_status = 1
        reason = "Internal error"
        try:
            write(b"* BYE Internal error\r\n")
        except OSError:
            pass
    finally:
        session.leave_selected()
        if rawlog is not None:
            rawlog.close()
    log.info("Disconnected: %s in=%d out=%d expunged=%d", reason, counters.bytes_in,
             counters.bytes_out, session.expunged_total)
    return session.exit_status
