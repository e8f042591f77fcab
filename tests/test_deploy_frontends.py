"""The inetd/ examples with the real front ends on 127.0.0.1 high ports, and real clients.

Each front end starts imapsession as root in login mode from the example file
in inetd/ (paths and ports rewritten for the test): socat, xinetd,
systemd-socket-activate, and stunnel for implicit TLS and for STARTTLS. The
clients are Python's imaplib, curl and openssl s_client. The TLS certificate
is made here with ``openssl req``; no key is in the repository.
"""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_login_world import LAUNCHER, REPO, World, free_port, needs_root, wait_for_port

INETD = REPO / "inetd"
BOB, BOB_PASSWORD = "bob", "bob-Secret-1"
pytestmark = needs_root


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (see inetd/README.md for the Debian package)")
    return path


@pytest.fixture
def world():
    w = World()
    w.config = w.top / "login.conf"
    w.config.write_text(
        "# written by the test\n"
        f"passwd_file = {w.passwd}\nlog_file = {w.log}\nfirst_valid_uid = 1000\n"
        "auth_delay = 0.05\nsecure_transport = no\n")
    yield w
    w.cleanup()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    need("openssl")
    top = tmp_path_factory.mktemp("tls")
    cert, key = top / "cert.pem", top / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


class Frontend:
    """A front-end process, stopped at the end of the test."""

    def __init__(self, argv: list[str], port: int, cwd: Path,
                 env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(cwd / "frontend.err", "wb"),
                                     start_new_session=True)
        self.cwd = cwd
        wait_for_port(port, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def frontends():
    started: list[Frontend] = []
    yield started
    for frontend in started:
        frontend.stop()


def server_command(world: World, *extra: str) -> str:
    """The examples' /usr/local/bin/imapsession ... as this checkout's command."""
    return f"{sys.executable} {LAUNCHER} --login --config {world.config} {' '.join(extra)}"


def set_key(text: str, key: str, value: str) -> str:
    new, count = re.subn(rf"^(\s*{re.escape(key)}\s*=).*$", lambda m: f"{m.group(1)} {value}",
                         text, flags=re.M)
    assert count == 1, key
    return new


def imaplib_session(client: imaplib.IMAP4) -> None:
    client.login(BOB, BOB_PASSWORD)
    typ, data = client.select("INBOX")
    assert typ == "OK", data
    client.append("INBOX", None, None, b"Subject: via a front end\r\n\r\nhello\r\n")
    typ, data = client.search(None, "ALL")
    assert typ == "OK" and data[0].split()[-1:] == [b"1"]
    assert client.logout()[0] == "BYE"


def curl(*args: str) -> str:
    need("curl")
    done = subprocess.run(["curl", "-sS", "--max-time", "30", "-u", f"{BOB}:{BOB_PASSWORD}",
                           *args], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def assert_logged_in_from_loopback(world: World, count: int = 1) -> None:
    deadline = time.monotonic() + 5
    while world.log_text().count("login: user=<bob>") < count and time.monotonic() < deadline:
        time.sleep(0.1)
    log = world.log_text()
    assert log.count("login: user=<bob>") >= count, log
    assert "<127.0.0.1>" in log
    assert BOB_PASSWORD not in log


def test_socat_exec(world, frontends):
    need("socat")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "IMAPSESSION": f"{sys.executable} {LAUNCHER}",
           "CONFIG": str(world.config)}
    frontends.append(Frontend([str(INETD / "socat.sh")], port, world.top, env))
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as client:
        assert "AUTH=PLAIN" in client.capabilities
        imaplib_session(client)
    listing = curl(f"imap://127.0.0.1:{port}/")
    assert "INBOX" in listing
    assert_logged_in_from_loopback(world, 2)
    assert "method=PLAIN" in world.log_text()  # curl used AUTHENTICATE PLAIN with SASL-IR


def test_xinetd_with_limits(world, frontends):
    xinetd = need("xinetd")
    port = free_port()
    text = (INETD / "xinetd.d" / "imap").read_text()
    text = set_key(text, "port", str(port))
    text = set_key(text, "server", sys.executable)
    text = set_key(text, "server_args", server_command(world, "--secure-transport")
                   .split(" ", 1)[1])
    text = set_key(text, "per_source", "2")
    text = text.replace("\tdisable\t\t= no", "\tdisable\t\t= no\n\tbind\t\t= 127.0.0.1")
    conf = world.top / "xinetd.conf"
    conf.write_text(text)
    frontends.append(Frontend([xinetd, "-dontfork", "-f", str(conf), "-pidfile",
                               str(world.top / "xinetd.pid")], port, world.top))
    time.sleep(0.5)  # the readiness probe's connection must be gone before per_source counts
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as client:
        imaplib_session(client)
    assert_logged_in_from_loopback(world)
    # per_source = 2: a third concurrent connection from 127.0.0.1 gets no greeting
    held = [imaplib.IMAP4("127.0.0.1", port, timeout=20) for _ in range(2)]
    with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
        imaplib.IMAP4("127.0.0.1", port, timeout=10)
    for client in held:
        client.logout()


def test_systemd_socket_activate(world, frontends):
    activate = need("systemd-socket-activate")
    port = free_port()
    service = (INETD / "systemd" / "imapsession@.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1)
    assert exec_start.startswith("/usr/local/bin/imapsession --login --config ")
    argv = [sys.executable, str(LAUNCHER), *exec_start.split()[1:]]
    argv[argv.index("/etc/imapsession/login.conf")] = str(world.config)
    frontends.append(Frontend([activate, "--inetd", "-a", "-l", f"127.0.0.1:{port}",
                               *argv, "--secure-transport"], port, world.top))
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as client:
        imaplib_session(client)
    assert "INBOX" in curl(f"imap://127.0.0.1:{port}/")
    assert_logged_in_from_loopback(world, 2)


def stunnel_conf(world: World, example: str, port: int, certificate) -> Path:
    cert, key = certificate
    text = (INETD / example).read_text()
    text = re.sub(r"^pid = .*$", f"pid = {world.top / 'stunnel.pid'}\nforeground = yes",
                  text, flags=re.M)
    text = set_key(text, "accept", f"127.0.0.1:{port}")
    text = set_key(text, "cert", str(cert))
    text = set_key(text, "key", str(key))
    text = set_key(text, "exec", sys.executable)
    args = re.search(r"^execArgs = imapsession (.*)$", text, re.M).group(1)
    args = args.replace("/etc/imapsession/login.conf", str(world.config))
    text = set_key(text, "execArgs", f"python3 {LAUNCHER} {args}")
    conf = world.top / "stunnel.conf"
    conf.write_text(text)
    return conf


def tls_context(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_stunnel_implicit_tls(world, frontends, certificate):
    stunnel = need("stunnel4") if shutil.which("stunnel4") else need("stunnel")
    port = free_port()
    conf = stunnel_conf(world, "stunnel-imaps.conf", port, certificate)
    frontends.append(Frontend([stunnel, str(conf)], port, world.top))
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls_context(certificate),
                           timeout=20) as client:
        imaplib_session(client)
    listing = curl("--cacert", str(certificate[0]), f"imaps://127.0.0.1:{port}/")
    assert "INBOX" in listing
    assert_logged_in_from_loopback(world, 2)  # stunnel's REMOTE_HOST
    assert "secured=yes" in world.log_text()


def test_stunnel_starttls(world, frontends, certificate):
    stunnel = need("stunnel4") if shutil.which("stunnel4") else need("stunnel")
    port = free_port()
    conf = stunnel_conf(world, "stunnel-imap-starttls.conf", port, certificate)
    frontends.append(Frontend([stunnel, str(conf)], port, world.top))
    # before STARTTLS stunnel answers, and no password reaches imapsession
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as client:
        assert "STARTTLS" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            client.login(BOB, BOB_PASSWORD)
    with imaplib.IMAP4("127.0.0.1", port, timeout=20) as client:
        client.starttls(ssl_context=tls_context(certificate))
        imaplib_session(client)
    need("openssl")
    done = subprocess.run(
        ["openssl", "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{port}",
         "-CAfile", str(certificate[0]), "-verify_return_error", "-quiet", "-crlf"],
        input=f"a LOGIN {BOB} {BOB_PASSWORD}\nb SELECT INBOX\nc LOGOUT\n".encode(),
        capture_output=True, timeout=60)
    out = done.stdout.decode()
    assert "a OK [CAPABILITY" in out and "b OK [READ-WRITE]" in out and "c OK" in out, out
    listing = curl("--ssl-reqd", "--cacert", str(certificate[0]), f"imap://127.0.0.1:{port}/")
    assert "INBOX" in listing
    assert_logged_in_from_loopback(world, 3)
