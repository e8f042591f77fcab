"""Where log lines go: syslog, a file, or stderr, never a client's socket.

Lines look like Dovecot's (``imap(user)<pid><remote>: Info: ...``) so an admin's
grep and fail2ban habits carry over.
"""

from __future__ import annotations

import logging
import os
import stat

LOGGER = "imapsession"


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


def setup(target: str | None) -> str:
    """Route the ``imapsession`` logger; returns a description of where it goes.

    ``target``: ``"syslog"``, ``"stderr"``, a file path, or None for the default
    (stderr, unless stderr is a socket, e.g. under inetd: then syslog).
    """
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if target is None:
        target = "syslog" if _stderr_is_socket() else "stderr"
    if target == "stderr" and _stderr_is_socket():
        target = "syslog"
    if target == "syslog":
        from logging.handlers import SysLogHandler

        address = "/dev/log" if os.path.exists("/dev/log") else ("localhost", 514)
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
    return target
