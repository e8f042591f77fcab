"""Whether the client's line is secure enough for a plaintext password.

The rule (Dovecot's, whose login processes treat a connection from the local
host as secured): the transport is secure when the operator says so (a TLS
front end: ``--secure-transport``), or when the peer is this host itself. The
peer is this host when:

* stdin is an IP socket (inetd, xinetd, systemd ``Accept=yes``) whose peer is a
  loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or the socket's own local
  address (the host talking to itself on another of its addresses, which is
  Dovecot's own test); the socket is the truth and the environment is ignored;
* stdin is anything else and the front end named the peer in the environment
  (``REMOTE_HOST``, ``REMOTE_ADDR``, ``SOCAT_PEERADDR``, ``TCPREMOTEIP``: socat's
  and stunnel's EXEC hand the child a socketpair) and that address is loopback;
* stdin is a Unix socket and no front end named a network peer.

A name that is not an IP address, a pipe, or a terminal is not secure.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from typing import NamedTuple

from imapsession.auth.remote import ENV_NAMES


class Transport(NamedTuple):
    """What is known of stdin: its socket family (None: not a socket) and addresses."""

    family: int | None
    peer: str | None
    local: str | None


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped 127.x; False for anything that is not an IP."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _same_address(a: str, b: str) -> bool:
    try:
        first, second = (ipaddress.ip_address(x.split("%", 1)[0]) for x in (a, b))
    except ValueError:
        return False
    first = getattr(first, "ipv4_mapped", None) or first
    second = getattr(second, "ipv4_mapped", None) or second
    return first == second


def probe(fd: int = 0) -> Transport:
    """The socket family of ``fd`` and, for IP sockets, peer and local address."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return Transport(None, None, None)
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return Transport(sock.family, None, None)
        try:
            return Transport(sock.family, sock.getpeername()[0], sock.getsockname()[0])
        except OSError:
            return Transport(sock.family, None, None)
    finally:
        sock.close()


def peer_is_local(transport: Transport, environ: Mapping[str, str]) -> bool:
    """The rule above, on what ``probe`` found and the front end's environment."""
    if transport.family in (socket.AF_INET, socket.AF_INET6):
        if transport.peer is None:
            return False
        return is_loopback(transport.peer) or (
            transport.local is not None and _same_address(transport.peer, transport.local))
    named = [environ[name].strip() for name in ENV_NAMES if environ.get(name, "").strip()]
    if named:
        return all(is_loopback(address) for address in named)
    return transport.family == socket.AF_UNIX


def secure(forced: bool, environ: Mapping[str, str], fd: int = 0) -> bool:
    """``forced`` (``--secure-transport``), or a peer on this host."""
    return forced or peer_is_local(probe(fd), environ)
