"""Where the client is: the socket on stdin, else what the front end put in the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

# xinetd and stunnel: REMOTE_HOST; socat: SOCAT_PEERADDR; ucspi-tcp: TCPREMOTEIP;
# systemd Accept=yes: REMOTE_ADDR
ENV_NAMES = ("REMOTE_HOST", "REMOTE_ADDR", "SOCAT_PEERADDR", "TCPREMOTEIP")


def remote_address(environ: Mapping[str, str], fd: int = 0) -> str:
    """The client's IP address as text, or "unknown" (never raises)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        sock = None
    if sock is not None:
        try:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                address = sock.getpeername()[0]
                if address.startswith("::ffff:") and "." in address:
                    address = address[7:]
                return address
        except OSError:
            pass
        finally:
            sock.close()
    for name in ENV_NAMES:
        value = environ.get(name, "").strip()
        if value:
            return _printable(value)
    return "unknown"


def _printable(text: str) -> str:
    """An environment value is the front end's, but keep log lines one line anyway."""
    return "".join(c if c.isprintable() and c != " " else "?" for c in text[:100])
