"""Where the login target's bytes go: the pre-login child's Session, or the real login mode.

``PreLoginChild`` builds the ``Session`` exactly as ``imapsession/login.py``'s child
does (no store, ``protocol/limits.pre_login`` limits, ``login_secure``) and plays the
root parent's part: a pending login is checked against one known account; a failure
is answered with ``login_failed`` (the third one is final), a success ends the
connection here (the parent would kill the child and run the session as the user).
``LoginBinary`` runs ``python -m imapsession --login --passwd-file F`` (needs root).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuzz.harness import REPO, FuzzFailure

USER, PASSWORD, UID = "fuzzuser", "Fz-pass-7Q2x", 60077


class PreLoginChild:
    """The child's Session in this process, the parent's verdicts given here."""

    def __init__(self, secure: bool, session_factory=None):
        from imapsession import greeting
        from imapsession.protocol.limits import DEFAULT_APPEND_LIMIT, pre_login
        from imapsession.session import Session

        factory = session_factory or Session
        self.session = factory(None, None, limits=pre_login(DEFAULT_APPEND_LIMIT))
        self.session.login_secure = secure
        self._greeting = greeting.greeting(
            None, greeting.capabilities(DEFAULT_APPEND_LIMIT, greeting.login_capabilities(secure)))
        self.failures = 0
        self.requests: list = []  # every LoginRequest the child handed to the parent
        self.logged_in: str | None = None  # the tag of the login that succeeded
        self.ended = False

    def greeting(self) -> bytes:
        return self._greeting

    def exchange(self, data: bytes, done) -> bytes:
        from imapsession.auth import throttle
        from imapsession.commands.results import no

        out = self.session.receive(data)
        while self.session.pending_login is not None and self.logged_in is None:
            command, request = self.session.pending_login
            self.requests.append(request)
            if request.user == USER.encode() and request.password == PASSWORD.encode() \
                    and request.authzid in (b"", USER.encode()):
                self.logged_in = command.tag  # the parent takes over from here
                break
            self.failures += 1
            self.session.login_failed(no("Authentication failed.", "AUTHENTICATIONFAILED"),
                                      final=throttle.exhausted(self.failures))
            out += self.session.receive(b"")
        if self.session.store is not None:
            raise FuzzFailure("the pre-login session holds a mail store")
        return out

    @property
    def finished(self) -> bool:
        return self.ended or self.session.finished or self.logged_in is not None

    def close(self) -> None:
        self.ended = True


class LoginWorld:
    """A passwd-file with one account, its home and Maildir, for the real login mode."""

    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="imapfuzz-login-"))
        os.chmod(self.top, 0o755)
        home = self.top / "home"
        (home / "Maildir").mkdir(parents=True)
        for path in (home, home / "Maildir"):
            os.chown(path, UID, UID)
        self.passwd = self.top / "passwd"
        self.passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{UID}:{UID}::{home}::\n")
        os.chmod(self.passwd, 0o600)
        self.log = self.top / "log"

    def argv(self, secure: bool) -> list[str]:
        return [sys.executable, "-m", "imapsession", "--login", "--passwd-file", str(self.passwd),
                "--log-file", str(self.log), "--first-valid-uid", "1000",
                "--auth-delay", "0.01", *(["--secure-transport"] if secure else [])]

    def close(self) -> None:
        shutil.rmtree(self.top, ignore_errors=True)


class LoginBinary:
    """``python -m imapsession --login`` on a pipe pair; each chunk ends with a sync NOOP."""

    TIMEOUT = 10.0
    # tests plant a bug in the real program through a sitecustomize on this path
    extra_path: tuple[str, ...] = ()

    def __init__(self, secure: bool, world: LoginWorld):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "PYTHONPATH": os.pathsep.join([*self.extra_path, str(REPO)]),
               "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(world.argv(secure), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, cwd="/")
        self.eof = False
        self.closed = False
        self._greeting = self._read(lambda out: out.endswith(b"\r\n"))

    def _read(self, complete) -> bytes:
        fd, out = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + self.TIMEOUT
        while not complete(out) and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FuzzFailure(f"login mode hung: no complete answer in {self.TIMEOUT}s; "
                                  f"got {out[-300:]!r}")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                self.eof = not chunk
                out += chunk
        return out

    def greeting(self) -> bytes:
        return self._greeting

    def exchange(self, data: bytes, done) -> bytes:
        """Write ``data``; read until ``done(output)`` (or the end of the stream)."""
        if self.eof:
            return b""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.eof = True
        return self._read(done)

    @property
    def finished(self) -> bool:
        return self.eof or self.closed

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
