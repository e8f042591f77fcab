"""Command line and environment into one ``Config`` value: mail location, mode, limits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

# environment variables that name a network peer (xinetd, socat, tcpserver, systemd)
PEER_VARIABLES = ("REMOTE_HOST", "SOCAT_PEERADDR", "TCPREMOTEIP", "LISTEN_FDS")


class MailLocationError(ValueError):
    """MAIL= names something we cannot serve."""


class MailLocation(NamedTuple):
    """``MAIL=`` as Dovecot reads it: ``FORMAT:PATH[:KEY=VALUE...]``.

    A NamedTuple, not attrs: this is parsed before the greeting, when importing
    attrs would cost every connection 20-30 ms.
    """

    format: str
    path: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str, home: str) -> MailLocation:
        fmt, sep, rest = text.partition(":")
        if not sep:  # a bare path: Dovecot guesses; we take it as a Maildir
            fmt, rest = "maildir", text
        fmt = fmt.lower()
        if fmt not in ("maildir", "mbox"):
            raise MailLocationError(f"unsupported mail format {fmt!r} (supported: maildir, mbox)")
        path, *extra = rest.split(":")
        options = []
        for item in extra:
            key, eq, value = item.partition("=")
            if not eq:
                raise MailLocationError(f"bad mail location option {item!r}")
            options.append((key.upper(), _expand(value, home)))
        if not path:
            raise MailLocationError("mail location has no path")
        return cls(fmt, _expand(path, home), tuple(options))

    def option(self, key: str) -> str | None:
        """A ``KEY=VALUE`` option (``INBOX=/var/mail/USER`` for mbox), or None."""
        return next((value for k, value in self.options if k == key.upper()), None)


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


def peer_reason(environ: Mapping[str, str], stdin_fd: int = 0) -> str | None:
    """Why a network peer may be on the other end, or None when there is none.

    Preauth hands the invoking user's mail to whoever is on stdin, so it is only
    the default where no network can be involved.
    """
    for name in PEER_VARIABLES:
        if environ.get(name):
            return f"{name} is set in the environment"
    import socket
    import stat

    try:
        mode = os.fstat(stdin_fd).st_mode
    except OSError:
        return None
    if stat.S_ISSOCK(mode):
        try:
            sock = socket.socket(fileno=os.dup(stdin_fd))
        except OSError:
            return "standard input is a socket of unknown kind"
        try:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return "standard input is a network socket"
        finally:
            sock.close()
    return None
