"""Not-authenticated commands: LOGIN, AUTHENTICATE PLAIN (with SASL-IR), STARTTLS.

These handlers only check the form of a login and hand the credentials to
``session.request_login``; the verdict comes from the root parent through
``login.py``. Without login mode (``session.login_secure is None``) they refuse.
"""

from __future__ import annotations

from imapsession.auth.request import LoginRequest
from imapsession.auth.sasl import SaslError, decode_plain
from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, bad, no
from imapsession.protocol.command import Command
from imapsession.protocol.framing import ContinuationTooLong, continuation_line

MAX_SASL_LINE = 8 * 1024
PRIVACY = "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."


def _unavailable(session: HandlerSession) -> Done | None:
    if session.login_secure is None:
        return no("Authentication is not available in this mode.", "UNAVAILABLE")
    if not session.login_secure:
        return no(PRIVACY, "PRIVACYREQUIRED")
    return None


def handle_login(session: HandlerSession, command: Command) -> Done | None:
    refusal = _unavailable(session)
    if refusal is not None:
        return refusal
    user, password = command.args
    session.request_login(command, LoginRequest(command.tag, "LOGIN", user, password))
    return None


def handle_authenticate(session: HandlerSession, command: Command) -> Done | None:
    mechanism, initial = command.args
    if mechanism != "PLAIN":
        return no("Unsupported authentication mechanism.")
    refusal = _unavailable(session)
    if refusal is not None:
        return refusal
    if initial is None:  # RFC 3501: an empty challenge, then the client's response line
        session.take_over_input(command)  # consume() reads the line
        session.send(b"+ \r\n")
        return None
    return _plain(session, command, initial)


def _plain(session: HandlerSession, command: Command, response: bytes) -> Done | None:
    try:
        authzid, authcid, password = decode_plain(response)
    except SaslError as exc:
        return bad(f"{exc}.")
    session.request_login(command, LoginRequest(command.tag, "PLAIN", authcid, password, authzid))
    return None


def consume(session: HandlerSession, data: bytes) -> bytes:
    """Read the response line to AUTHENTICATE's challenge; return the bytes after it."""
    try:
        line, rest = continuation_line(session.input_owner_buffer, data, MAX_SASL_LINE)
    except ContinuationTooLong:
        session.finish(session.release_input(), bad("SASL response too long."))
        return b""
    if line is None:
        session.input_owner_buffer = rest
        return b""
    command = session.release_input()
    done = bad("Authentication aborted by client.") if line == b"*" else _plain(
        session, command, line)
    if done is not None:
        session.finish(command, done)
    return rest


def handle_starttls(session: HandlerSession, command: Command) -> Done:
    # TLS stays outside the process: stunnel's protocol=imap handles STARTTLS
    return bad("TLS is provided by the front end (stunnel), not by this process.")
