"""Commands valid in every state: CAPABILITY, NOOP, LOGOUT, ID, ENABLE."""

from __future__ import annotations

from imapsession import __version__
from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, ok
from imapsession.protocol import serializer
from imapsession.protocol.command import Command


def handle_capability(session: HandlerSession, command: Command) -> Done:
    session.send(("* CAPABILITY " + " ".join(session.capabilities()) + "\r\n").encode())
    return ok("Capability completed.")


def handle_noop(session: HandlerSession, command: Command) -> Done:
    # the session's sync point after every command does the work (cmd-noop.c's shape)
    return ok("NOOP completed.")


def handle_logout(session: HandlerSession, command: Command) -> Done:
    session.send(b"* BYE Logging out\r\n")
    session.logout()
    return ok("Logout completed.")


def handle_id(session: HandlerSession, command: Command) -> Done:
    fields = (b'"name"', b'"imapsession"', b'"version"', serializer.string(__version__))
    session.send(b"* ID " + serializer.plist(fields) + b"\r\n")
    return ok("ID completed.")


def handle_enable(session: HandlerSession, command: Command) -> Done:
    # nothing enableable yet (CONDSTORE, QRESYNC, UTF8=ACCEPT come later); RFC 5161
    # says unknown capabilities are ignored, and ENABLED lists what was enabled
    enabled = [cap for cap in command.args[0] if cap in session.enableable]
    session.enabled.update(enabled)
    if enabled:  # Dovecot sends no ENABLED line when nothing was enabled
        session.send(("* ENABLED" + "".join(" " + cap for cap in enabled) + "\r\n").encode())
    return ok("Enabled.")
