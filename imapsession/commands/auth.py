"""Not-authenticated commands. Login mode comes with its own issue; until then the
server only runs pre-authenticated and these refuse clearly."""

from __future__ import annotations

from imapsession.protocol.command import Command
from imapsession.session import Done, Session, bad, no


def handle_login(session: Session, command: Command) -> Done:
    return no("Plaintext authentication is not available in this mode.", "UNAVAILABLE")


def handle_authenticate(session: Session, command: Command) -> Done:
    return no("Unsupported authentication mechanism.", "UNAVAILABLE")


def handle_starttls(session: Session, command: Command) -> Done:
    # TLS stays outside the process: stunnel's protocol=imap handles STARTTLS
    return bad("TLS is provided by the front end (stunnel), not by this process.")
