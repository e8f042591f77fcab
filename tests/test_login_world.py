"""A login-mode world for tests: a passwd-file of users with high uids, homes, a log.

Imported by the other login and deploy tests; the tests here check the world itself.
Everything that starts the real server needs root (it changes uid).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = REPO / "bin" / "imapsession"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="login mode changes uid: run the tests as root")

# user -> (scheme, password, uid); every home is chowned to its uid
USERS = {
    "bob": ("BLF-CRYPT", "bob-Secret-1", 60001),
    "alice": ("ARGON2ID", "alice-Secret-2", 60002),
    "carol": ("SHA512-CRYPT", "carol-Secret-3", 60003),
    "dave": ("PLAIN", "dave-Secret-4", 60004),
    "lowuid": ("PLAIN", "lowuid-Secret-5", 100),
    "rootish": ("PLAIN", "rootish-Secret-6", 0),
}


def hash_password(scheme: str, password: str) -> str:
    if scheme == "BLF-CRYPT":
        import bcrypt

        return "{BLF-CRYPT}" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()
    if scheme == "ARGON2ID":
        from argon2 import PasswordHasher

        return "{ARGON2ID}" + PasswordHasher(time_cost=2, memory_cost=8192).hash(password)
    if scheme == "SHA512-CRYPT":
        from passlib.hash import sha512_crypt

        return "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(password)
    return "{PLAIN}" + password


class World:
    """A temp dir with passwd, homes and log; ``argv()`` runs the server on them."""

    def __init__(self) -> None:
        self.top = Path(tempfile.mkdtemp(prefix="imapsession-login-"))
        os.chmod(self.top, 0o755)
        self.passwd = self.top / "passwd"
        self.log = self.top / "log"
        lines = []
        for user, (scheme, password, uid) in USERS.items():
            home = self.top / "home" / user
            (home / "Maildir").mkdir(parents=True)
            for path in (home, home / "Maildir"):
                if IS_ROOT:
                    os.chown(path, uid, uid)
            lines.append(f"{user}:{hash_password(scheme, password)}:{uid}:{uid}::{home}::")
        os.chmod(self.top / "home", 0o755)
        self.passwd.write_text("\n".join(lines) + "\n")
        os.chmod(self.passwd, 0o600)

    def home(self, user: str) -> Path:
        return self.top / "home" / user

    def options(self, *extra: str, secure: bool = True) -> list[str]:
        opts = ["--passwd-file", str(self.passwd), "--log-file", str(self.log),
                "--first-valid-uid", "1000", "--auth-delay", "0.05"]
        if secure:
            opts.append("--secure-transport")
        return [*opts, *extra]

    def argv(self, *extra: str, secure: bool = True, login_flag: bool = True) -> list[str]:
        flag = ["--login"] if login_flag else []
        return [sys.executable, str(LAUNCHER), *flag, *self.options(*extra, secure=secure)]

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def cleanup(self) -> None:
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"front end exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class Wire:
    """A raw client on one end of a socket whose other end is the server's stdin/stdout."""

    def __init__(self, sock: socket.socket, timeout: float = 15) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buffer = b""

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"server closed; had {self.buffer!r}")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def until_tagged(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" ") or (line.startswith(b"* BYE") and tag == b"*"):
                return lines

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, tag: bytes, text: bytes) -> list[bytes]:
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def rest(self) -> bytes:
        chunks = [self.buffer]
        self.buffer = b""
        try:
            while data := self.sock.recv(65536):
                chunks.append(data)
        except OSError:
            pass
        return b"".join(chunks)


def spawn(argv: list[str], *, tcp: bool = False, env: dict[str, str] | None = None):
    """Start the server with a socket on stdin/stdout: a TCP pair on 127.0.0.1, or a
    Unix socketpair. Returns (process, Wire)."""
    if tcp:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
    else:
        server, client = socket.socketpair()
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full_env.update(env or {})
    proc = subprocess.Popen(argv, stdin=server, stdout=server, stderr=subprocess.DEVNULL,
                            env=full_env, cwd="/")
    server.close()
    return proc, Wire(client)


@needs_root
def test_world_homes_belong_to_their_users(world):
    assert os.stat(world.home("bob")).st_uid == 60001
    assert os.stat(world.passwd).st_mode & 0o077 == 0


def test_world_hashes_name_their_scheme():
    assert hash_password("ARGON2ID", "x").startswith("{ARGON2ID}$argon2id$")
    assert hash_password("BLF-CRYPT", "x").startswith("{BLF-CRYPT}$2")
    assert hash_password("SHA512-CRYPT", "x").startswith("{SHA512-CRYPT}$6$")
