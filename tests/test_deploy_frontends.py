"""Every file in inetd/ run as shipped by its real front end, on 127.0.0.1 high ports.

The test changes nothing but paths, listening addresses and ports, by exact string
replacement (a replacement that no longer matches the example fails the test):

* ``/usr/local/bin/imapsession`` becomes a launcher whose ``#!`` is this test's
  Python (``sys.executable``, the install's venv), not whatever ``python3`` is on PATH;
* ``/etc/imapsession/...`` and the TLS paths become the test's files;
* ``143``/``993``/``imap``/``0.0.0.0`` in the listening field become 127.0.0.1 and a
  free port.

``login.conf`` is used as shipped (``secure_transport = no``: the plain front ends
log in only because the peer is loopback), with one more change: its suggested
``log_file`` line is switched on, at a test path, for the test to read.

Which test runs which file: socat.sh (test_socat_sh), xinetd.d/imap (test_xinetd),
inetd.conf (test_inetd_conf, openbsd-inetd: Debian's inetd packages conflict with
xinetd, so .ci/run unpacks it to /opt/openbsd-inetd), systemd/imapsession.socket and
imapsession@.service (test_systemd_units, with systemd-socket-activate: it runs
the ExecStart= line, not the sandbox lines, which need a running systemd),
stunnel-imaps.conf and stunnel-imap-starttls.conf (test_stunnel_*); login.conf in
all of them. Clients: imaplib (a wrong password, LOGIN, SELECT, APPEND, FETCH),
curl and openssl s_client.
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
from test_login_world import REPO, World, free_port, needs_root, wait_for_port

INETD = REPO / "inetd"
SHIPPED_BINARY = "/usr/local/bin/imapsession"
SHIPPED_CONFIG = "/etc/imapsession/login.conf"
BOB, BOB_PASSWORD = "bob", "bob-Secret-1"
OPENBSD_INETD = ("inetd", "/opt/openbsd-inetd/usr/sbin/inetd")
pytestmark = needs_root


def need(*programs: str) -> str:
    for program in programs:
        path = shutil.which(program) if not os.path.isabs(program) else (
            program if os.access(program, os.X_OK) else None)
        if path:
            return path
    pytest.skip(f"{programs[0]} is not installed (see inetd/README.md for the Debian package)")


def replace_exactly(text: str, replacements: dict[str, str]) -> str:
    """Each key must occur in the shipped text: the test follows the example, not a copy."""
    for old, new in replacements.items():
        assert old in text, f"the example no longer contains {old!r}"
        text = text.replace(old, new)
    return text


class Install:
    """The shipped layout under a temp dir: the launcher, login.conf, passwd, log."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.binary = world.top / "bin" / "imapsession"
        self.binary.parent.mkdir()
        self.binary.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            "from imapsession.cli import main\n"
            "raise SystemExit(main())\n")
        self.binary.chmod(0o755)
        self.config = world.top / "login.conf"
        self.config.write_text(replace_exactly((INETD / "login.conf").read_text(), {
            "passwd_file = /etc/imapsession/passwd": f"passwd_file = {world.passwd}",
            "# log_file = /var/log/imapsession/imapsession.log": f"log_file = {world.log}",
        }))

    def paths(self) -> dict[str, str]:
        return {SHIPPED_BINARY: str(self.binary), SHIPPED_CONFIG: str(self.config)}

    def write(self, name: str, text: str) -> Path:
        path = self.world.top / name
        path.write_text(text)
        return path


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()


@pytest.fixture
def install(world):
    return Install(world)


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
    """A front-end process, stopped at the end of the test (by its pid file if it forks)."""

    def __init__(self, argv: list[str], port: int, cwd: Path,
                 env: dict[str, str] | None = None, pid_file: Path | None = None) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(cwd / "frontend.err", "wb"),
                                     start_new_session=True)
        self.pid_file = pid_file
        wait_for_port(port, None if pid_file else self.proc)

    def stop(self) -> None:
        if self.pid_file is not None and self.pid_file.exists():
            try:
                os.kill(int(self.pid_file.read_text().split()[0]), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
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


def imaplib_session(client: imaplib.IMAP4, *, wrong_password: bool = True) -> None:
    """A wrong password (answered after the shipped auth_delay), then a real session."""
    if wrong_password:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login(BOB, "not-" + BOB_PASSWORD)
    client.login(BOB, BOB_PASSWORD)
    typ, data = client.select("INBOX")
    assert typ == "OK", data
    typ, data = client.append("INBOX", None, None, b"Subject: via a front end\r\n\r\nhello\r\n")
    assert typ == "OK", data
    client.noop()
    typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: via a front end" in data[0][1], data
    assert client.logout()[0] == "BYE"


def plain_session(port: int) -> None:
    with imaplib.IMAP4("127.0.0.1", port, timeout=30) as client:
        # a plain front end, no --secure-transport: allowed because the peer is loopback
        assert "AUTH=PLAIN" in client.capabilities and "LOGINDISABLED" not in client.capabilities
        imaplib_session(client)


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
    assert "reason=password mismatch" in log
    assert BOB_PASSWORD not in log


def test_socat_sh(world, install, frontends):
    need("socat")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "IMAPSESSION": str(install.binary),
           "CONFIG": str(install.config)}
    frontends.append(Frontend([str(INETD / "socat.sh")], port, world.top, env))
    plain_session(port)
    assert "INBOX" in curl(f"imap://127.0.0.1:{port}/")
    assert_logged_in_from_loopback(world, 2)
    assert "method=PLAIN" in world.log_text()  # curl used AUTHENTICATE PLAIN with SASL-IR


def test_xinetd(world, install, frontends):
    xinetd = need("xinetd")
    port = free_port()
    text = replace_exactly((INETD / "xinetd.d" / "imap").read_text(), {
        **install.paths(), "= 143\n": f"= {port}\n", "= 0.0.0.0\n": "= 127.0.0.1\n"})
    conf = install.write("xinetd.conf", text)
    own_log = world.top / "xinetd.log"  # xinetd's own messages: a line it could not parse
    frontends.append(Frontend([xinetd, "-dontfork", "-filelog", str(own_log), "-f", str(conf),
                               "-pidfile", str(world.top / "xinetd.pid")], port, world.top))
    assert "ERROR" not in own_log.read_text()
    time.sleep(0.5)  # the readiness probe's connection must be gone before per_source counts
    plain_session(port)
    assert_logged_in_from_loopback(world)
    per_source = int(re.search(r"per_source\s*=\s*(\d+)", text).group(1))
    held = [imaplib.IMAP4("127.0.0.1", port, timeout=30) for _ in range(per_source)]
    # one more concurrent connection from 127.0.0.1 than per_source gets no greeting
    with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
        imaplib.IMAP4("127.0.0.1", port, timeout=10)
    for client in held:
        client.logout()


def test_inetd_conf(world, install, frontends):
    inetd = need(*OPENBSD_INETD)
    port = free_port()
    text = (INETD / "inetd.conf").read_text()
    assert re.search(r"^imap\t", text, re.M)
    text = re.sub(r"^imap\t", f"127.0.0.1:{port}\t", text, flags=re.M)  # the service field
    conf = install.write("inetd.conf", replace_exactly(text, install.paths()))
    frontends.append(Frontend([inetd, "-i", str(conf)], port, world.top))
    plain_session(port)
    assert_logged_in_from_loopback(world)


def test_systemd_units(world, install, frontends):
    activate = need("systemd-socket-activate")
    port = free_port()
    socket_unit = (INETD / "systemd" / "imapsession.socket").read_text()
    assert re.search(r"^Accept=yes$", socket_unit, re.M)  # one process per connection
    listen = re.search(r"^ListenStream=(.*)$", socket_unit, re.M).group(1)
    listen = replace_exactly(listen, {"143": f"127.0.0.1:{port}"})
    service = replace_exactly((INETD / "systemd" / "imapsession@.service").read_text(),
                              install.paths())
    exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1).split()
    assert re.search(r"^StandardInput=socket$", service, re.M)
    frontends.append(Frontend([activate, "--inetd", "--accept", "-l", listen, *exec_start],
                              port, world.top))
    plain_session(port)
    assert "INBOX" in curl(f"imap://127.0.0.1:{port}/")
    assert_logged_in_from_loopback(world, 2)


def stunnel_conf(install: Install, example: str, port: int, certificate) -> Path:
    cert, key = certificate
    text = (INETD / example).read_text()
    accept = re.search(r"^accept = (\d+)$", text, re.M).group(1)
    text = replace_exactly(text, {
        **install.paths(),
        f"accept = {accept}\n": f"accept = 127.0.0.1:{port}\n",
        "/etc/imapsession/tls/fullchain.pem": str(cert),
        "/etc/imapsession/tls/privkey.pem": str(key),
    })
    text = re.sub(r"^pid = /run/(\S+)$", lambda m: f"pid = {install.world.top / m.group(1)}",
                  text, flags=re.M)
    return install.write("stunnel.conf", text)


def start_stunnel(world: World, install: Install, example: str, certificate,
                  frontends: list[Frontend]) -> int:
    stunnel = need("stunnel4", "stunnel")
    port = free_port()
    conf = stunnel_conf(install, example, port, certificate)
    pid_file = Path(re.search(r"^pid = (.*)$", conf.read_text(), re.M).group(1))
    frontends.append(Frontend([stunnel, str(conf)], port, world.top, pid_file=pid_file))
    return port


def tls_context(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_stunnel_imaps(world, install, frontends, certificate):
    port = start_stunnel(world, install, "stunnel-imaps.conf", certificate, frontends)
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls_context(certificate),
                           timeout=30) as client:
        imaplib_session(client)
    listing = curl("--cacert", str(certificate[0]), f"imaps://127.0.0.1:{port}/")
    assert "INBOX" in listing
    assert_logged_in_from_loopback(world, 2)  # stunnel's REMOTE_HOST
    assert "secured=yes" in world.log_text()


def test_stunnel_imap_starttls(world, install, frontends, certificate):
    port = start_stunnel(world, install, "stunnel-imap-starttls.conf", certificate, frontends)
    # before STARTTLS stunnel answers, and no password reaches imapsession
    with imaplib.IMAP4("127.0.0.1", port, timeout=30) as client:
        assert "STARTTLS" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            client.login(BOB, BOB_PASSWORD)
    with imaplib.IMAP4("127.0.0.1", port, timeout=30) as client:
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
    assert_logged_in_from_loopback(world, 2)


def test_every_file_in_inetd_is_run_by_a_test():
    """A new example without a test here fails this test."""
    source = Path(__file__).read_text()
    shipped = {str(p.relative_to(INETD)) for p in INETD.rglob("*") if p.is_file()}
    tested = {"socat.sh", "xinetd.d/imap", "inetd.conf", "systemd/imapsession.socket",
              "systemd/imapsession@.service", "stunnel-imaps.conf",
              "stunnel-imap-starttls.conf", "login.conf", "README.md"}
    assert shipped == tested
    for name in tested - {"README.md"}:
        assert f'"{Path(name).name}"' in source, name
