"""Where log lines go: syslog, a file, or stderr, never a client's socket.

Lines look like Dovecot's (``imap(user)<pid><remote>: Info: ...``) so an admin's
grep and fail2ban habits carry over.
"""

from __future__ import annotations

import logging
import os
import stat

LOGGER = "imapsession"
SYSLOG_SOCKET = "/dev/log"


def _stderr_is_socket() -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(2).st_mode)
    except OSError:
        return True  # no usable stderr: do not write there


class _Context(logging.Filter):
    """Stamps every record with the session's user and remote address."""

    def __init__(self) -> None:
        super().__init__()
        self.user = "-"
        self.remote = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.imap_user = self.user
        record.imap_remote = f"<{self.remote}>" if self.remote else ""
        return True


_context = _Context()


def set_context(user: str | None = None, remote: str | None = None) -> None:
    if user is not None:
        _context.user = user
    if remote is not None:
        _context.remote = remote


def setup(target: str | None, *, stderr_is_client: bool | None = None) -> str:
    """Route the ``imapsession`` logger; returns where it goes (syslog, stderr or the path).

    ``target``: ``"syslog"``, ``"stderr"``, a file path, or None for the default
    (stderr, unless stderr is the client, e.g. under inetd: then syslog).
    ``stderr_is_client``: whether fd 2 was the client's socket before the command
    line pointed it at /dev/null (None: look at fd 2 now). Where syslog has no
    socket (a container without /dev/log), lines go to stderr if stderr is not the
    client, with one line saying so, rather than to a UDP port nobody listens on.
    """
    if stderr_is_client is None:
        stderr_is_client = _stderr_is_socket()
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if target is None or (target == "stderr" and stderr_is_client):
        target = "syslog" if stderr_is_client else "stderr"
    note = None
    if target == "syslog" and not os.path.exists(SYSLOG_SOCKET) and not stderr_is_client:
        target = "stderr"
        note = f"No syslog socket ({SYSLOG_SOCKET}): logging to stderr instead"
    if target == "syslog":
        from logging.handlers import SysLogHandler

        address = SYSLOG_SOCKET if os.path.exists(SYSLOG_SOCKET) else ("localhost", 514)
        handler: logging.Handler = SysLogHandler(address=address, facility=SysLogHandler.LOG_MAIL)
        fmt = "imapsession(%(imap_user)s)<%(process)d>%(imap_remote)s: %(levelname)s: %(message)s"
    elif target == "stderr":
        handler = logging.StreamHandler()
        fmt = "imapsession(%(imap_user)s)<%(process)d>%(imap_remote)s: %(levelname)s: %(message)s"
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
        fmt = ("%(asctime)s imapsession(%(imap_user)s)<%(process)d>%(imap_remote)s: "
               "%(levelname)s: %(message)s")
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(_context)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if note is not None:
        logger.warning(note)
    return target
