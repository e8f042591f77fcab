"""Plaintext login from this host without --secure-transport, refused from anywhere else.

The rule (auth/transport.py, after Dovecot's "connections from the local host are
secured"): a loopback peer on stdin's IP socket, a loopback peer named by the front
end, or a Unix socket with no network peer named. Remote peers cannot be made on
127.0.0.1, so the IP-socket side of the rule is also checked on probed values.
"""

from __future__ import annotations

import socket

import pytest
from test_login_world import World, needs_root, spawn

from imapsession.auth.transport import Transport, is_loopback, peer_is_local, probe

INET, INET6, UNIX = socket.AF_INET, socket.AF_INET6, socket.AF_UNIX


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("[::1]", True), ("192.0.2.7", False), ("::ffff:192.0.2.7", False), ("2001:db8::1", False),
    ("128.0.0.1", False), ("localhost", False), ("", False), ("127.0.0.1 evil", False),
])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize("transport, environ, local", [
    (Transport(INET, "127.0.0.1", "127.0.0.1"), {}, True),
    (Transport(INET6, "::ffff:127.0.0.1", "::ffff:127.0.0.1"), {}, True),
    (Transport(INET6, "::1", "::1"), {}, True),
    # the host talking to itself on a public address: Dovecot's remote == local test
    (Transport(INET, "198.51.100.4", "198.51.100.4"), {}, True),
    (Transport(INET, "192.0.2.7", "198.51.100.4"), {}, False),
    (Transport(INET6, "2001:db8::7", "2001:db8::1"), {}, False),
    # on an IP socket the socket is the truth, not the environment
    (Transport(INET, "192.0.2.7", "198.51.100.4"), {"REMOTE_HOST": "127.0.0.1"}, False),
    (Transport(INET, None, None), {}, False),
    # socketpair from socat/stunnel EXEC: the peer the front end names
    (Transport(UNIX, None, None), {"SOCAT_PEERADDR": "127.0.0.1"}, True),
    (Transport(UNIX, None, None), {"SOCAT_PEERADDR": "192.0.2.7"}, False),
    (Transport(UNIX, None, None), {"REMOTE_HOST": "::1", "TCPREMOTEIP": "192.0.2.7"}, False),
    (Transport(UNIX, None, None), {"REMOTE_ADDR": "localhost"}, False),
    (Transport(UNIX, None, None), {}, True),
    # a pipe or a terminal, or nothing known: not secure
    (Transport(None, None, None), {}, False),
    (Transport(None, None, None), {"REMOTE_HOST": "127.0.0.1"}, True),
])
def test_peer_is_local(transport, environ, local):
    assert peer_is_local(transport, environ) is local


def test_probe_reads_the_socket():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()):
            server, _ = listener.accept()
            with server:
                found = probe(server.fileno())
    assert found == Transport(INET, "127.0.0.1", "127.0.0.1")
    a, b = socket.socketpair()
    with a, b:
        assert probe(a.fileno()).family == UNIX


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()


def login_ok(proc, wire) -> None:
    greeting = wire.line()
    assert b"AUTH=PLAIN" in greeting and b"LOGINDISABLED" not in greeting
    assert wire.command(b"a", b"LOGIN bob bob-Secret-1")[-1].startswith(b"a OK")
    assert wire.command(b"b", b"LOGOUT")[-1].startswith(b"b OK")
    wire.rest()
    proc.wait(timeout=15)


@needs_root
def test_loopback_tcp_logs_in_without_secure_transport(world):
    login_ok(*spawn(world.argv(secure=False), tcp=True))
    assert "secured=yes" in world.log_text()


@needs_root
@pytest.mark.parametrize("env", [{}, {"SOCAT_PEERADDR": "127.0.0.1"}])
def test_unix_socket_logs_in_without_secure_transport(world, env):
    login_ok(*spawn(world.argv(secure=False), env=env))


@needs_root
@pytest.mark.parametrize("env", [{"SOCAT_PEERADDR": "192.0.2.7"}, {"REMOTE_HOST": "192.0.2.7"}])
def test_remote_peer_named_by_the_front_end_gets_logindisabled(world, env):
    proc, wire = spawn(world.argv(secure=False), env=env)
    assert b"LOGINDISABLED" in wire.line()
    assert wire.command(b"a", b"LOGIN bob bob-Secret-1")[-1].startswith(b"a NO [PRIVACYREQUIRED]")
    wire.command(b"z", b"LOGOUT")
    wire.rest()
    proc.wait(timeout=15)
    assert "login:" not in world.log_text()


@needs_root
def test_secure_transport_still_allows_a_remote_peer(world):
    login_ok(*spawn(world.argv(secure=True), env={"REMOTE_HOST": "192.0.2.7"}))
