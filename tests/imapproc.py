"""A small client for any IMAP server that speaks on its stdin/stdout.

Tests and the benchmark use it to drive our server and Dovecot's ``imap`` the
same way. It reads responses the way RFC 3501 section 7 frames them: a line
ending in ``{n}`` CRLF is followed by exactly n octets and then the rest of the
same response, so a literal containing CRLF or ``a OK`` never confuses it.

Responses are returned as raw bytes, one element per response (literals
embedded, trailing CRLF kept), so ``b"".join(response)`` is exactly what the
server wrote. Every read has a deadline: a hung server fails the test with
``ImapTimeout`` instead of hanging CI.
"""

from __future__ import annotations

import itertools
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
NOBODY = 65534
DEFAULT_TIMEOUT = 15.0

_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\}\r\n\Z")

Literal = bytes | str | tuple[bytes | str, bytes | str]


class ImapTimeout(AssertionError):
    """The server did not answer in time (an AssertionError so pytest shows it plainly)."""


class ImapEOF(AssertionError):
    """The server closed its stdout in the middle of what we were waiting for."""


def _b(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


class ImapProcess:
    """One server process and the client side of its session."""

    def __init__(self, popen: subprocess.Popen, *, timeout: float = DEFAULT_TIMEOUT,
                 home: str | None = None, maildir: str | None = None,
                 stderr_file=None, cleanup: Sequence[str] = ()):
        self.popen = popen
        self.timeout = timeout
        self.home = home
        self.maildir = maildir
        self._stderr_file = stderr_file
        self._cleanup = list(cleanup)
        self._buf = bytearray()
        self._eof = False
        self.bytes_received = 0  # every octet read from the server, for throughput figures
        self._tags = (f"A{n:04d}" for n in itertools.count(1))
        self.peak_rss_kb: int | None = None
        self.greeting = self.read_response()

    # --- reading -------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        """Read whatever the server has written, waiting until ``deadline`` at most."""
        if self._eof:
            raise ImapEOF(f"server closed stdout; unread: {bytes(self._buf)!r}{self._why()}")
        fd = self.popen.stdout.fileno()
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise ImapTimeout(f"no answer within {self.timeout}s; unread: {bytes(self._buf)!r}"
                              f"{self._why()}")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            self._eof = True
            raise ImapEOF(f"server closed stdout; unread: {bytes(self._buf)!r}{self._why()}")
        self.bytes_received += len(chunk)
        self._buf += chunk

    def _why(self) -> str:
        """The end of the server's stderr, so a failure explains itself."""
        text = self.stderr_text()[-3000:]
        return f"\n--- server stderr ---\n{text}" if text else ""

    def _read_line(self, deadline: float) -> bytes:
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            start = len(self._buf)
            self._fill(deadline)

    def _read_exact(self, count: int, deadline: float) -> bytes:
        while len(self._buf) < count:
            self._fill(deadline)
        data = bytes(self._buf[:count])
        del self._buf[:count]
        return data

    def read_response(self, timeout: float | None = None) -> bytes:
        """One whole response: a line plus any literals it announces and what follows them."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        parts = []
        while True:
            line = self._read_line(deadline)
            parts.append(line)
            match = _LITERAL_AT_END.search(line)
            if not match:
                return b"".join(parts)
            parts.append(self._read_exact(int(match.group(1)), deadline))

    def read_until_tagged(self, tag: bytes | str, timeout: float | None = None) -> list[bytes]:
        """Every response up to and including the one tagged ``tag``."""
        prefix = _b(tag) + b" "
        responses = []
        while True:
            response = self.read_response(timeout)
            responses.append(response)
            if response.startswith(prefix):
                return responses

    def pending(self, wait: float = 0.2) -> bytes:
        """Whatever the server writes within ``wait`` seconds (for checking it stays quiet)."""
        deadline = time.monotonic() + wait
        try:
            while True:
                self._fill(deadline)
        except (ImapTimeout, ImapEOF):
            pass
        data = bytes(self._buf)
        self._buf.clear()
        return data

    # --- writing -------------------------------------------------------------------

    def next_tag(self) -> str:
        return next(self._tags)

    def send_raw(self, data: bytes | str) -> None:
        self.popen.stdin.write(_b(data))
        self.popen.stdin.flush()

    def command(self, line: bytes | str, literals: Sequence[Literal] = (), *,
                sync: bool = True, tag: str | None = None,
                timeout: float | None = None) -> list[bytes]:
        """Send one tagged command; return every response up to and including the tagged one.

        Each literal is announced at the end of the text so far (after a space
        unless that ends in a space or ``(``) as ``{n}`` (or
        ``{n+}`` when ``sync`` is false), then sent; a literal given as
        ``(octets, text)`` is followed by ``text`` before the next literal or
        the final CRLF. If the server answers a synchronising literal with
        anything but ``+``, that answer ends the command and is returned.
        """
        tag = tag or self.next_tag()
        pending = _b(tag) + b" " + _b(line)
        responses: list[bytes] = []
        for item in literals:
            octets, after = (_b(item[0]), _b(item[1])) if isinstance(item, tuple) else (_b(item), b"")
            if not pending.endswith((b" ", b"(")):
                pending += b" "
            if sync:
                self.send_raw(pending + b"{%d}\r\n" % len(octets))
                while True:
                    response = self.read_response(timeout)
                    if response.startswith(b"+"):
                        break
                    responses.append(response)
                    if not response.startswith(b"* "):
                        return responses
                pending = octets + after
            else:
                pending += b"{%d+}\r\n" % len(octets) + octets + after
        self.send_raw(pending + b"\r\n")
        return responses + self.read_until_tagged(tag, timeout)

    # --- ending --------------------------------------------------------------------

    def _note_rss(self) -> None:
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            self.peak_rss_kb = int(match.group(1))

    def logout(self) -> list[bytes]:
        """LOGOUT, then wait for the process to end; returns the responses."""
        self._note_rss()
        responses = self.command("LOGOUT")
        self.close()
        return responses

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self.popen.wait(self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            raise ImapTimeout("server did not exit") from None

    def close(self) -> int:
        """Close stdin (EOF), wait for the exit, remove temporary copies; returns the exit code."""
        if self.peak_rss_kb is None:
            self._note_rss()
        try:
            self.popen.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.popen.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        self.popen.stdout.close()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup.clear()
        return code

    def stderr_text(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode("utf-8", "replace")

    def __enter__(self) -> ImapProcess:
        return self

    def __exit__(self, *exc) -> None:
        if self.popen.returncode is None or self._cleanup:
            self.close()


def spawn(argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None, *,
          stdin=subprocess.PIPE, timeout: float = DEFAULT_TIMEOUT, **kwargs) -> ImapProcess:
    """Start ``argv`` with ``env`` and read its greeting."""
    stderr_file = tempfile.TemporaryFile()
    popen = subprocess.Popen(list(argv), stdin=stdin, stdout=subprocess.PIPE,
                             stderr=stderr_file, env=dict(env), cwd=cwd)
    try:
        return ImapProcess(popen, timeout=timeout, stderr_file=stderr_file, **kwargs)
    except BaseException:
        popen.kill()
        popen.wait()
        raise


def running_as_root() -> bool:
    return os.geteuid() == 0


def make_home(maildir: str | None, owner: int | None = None) -> tuple[str, str, str]:
    """A fresh temporary home holding a copy of ``maildir`` (or an empty Maildir).

    Returns (top directory to remove, home, maildir copy). With ``owner`` the
    whole tree is chowned to it, so an unprivileged server can write its index.
    """
    top = tempfile.mkdtemp(prefix="imaphome-")
    home = os.path.join(top, "home")
    os.mkdir(home)
    copy = os.path.join(home, "Maildir")
    if maildir is None:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(copy, sub))
    else:
        shutil.copytree(maildir, copy, symlinks=True)
    if owner is not None:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), owner, owner)
        os.chown(top, owner, owner)
    return top, home, copy


def dovecot_argv(home: str, maildir: str) -> list[str]:
    argv = [DOVECOT_IMAP, "-o", f"mail_location=maildir:{maildir}"]
    if running_as_root():
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                "env", "-i", f"HOME={home}", "USER=nobody", *argv]
    return argv


def spawn_dovecot(maildir: str | None, *, copy: bool = True, **kwargs) -> ImapProcess:
    """Dovecot's imap on a private copy of ``maildir`` (as nobody when we are root).

    With ``copy=False`` ``maildir`` is used in place (e.g. the copy an earlier
    process left, to measure a warm index); it must already be writable by the
    user the server runs as.
    """
    if copy:
        top, home, mail = make_home(maildir, NOBODY if running_as_root() else None)
        cleanup = [top]
    else:
        mail, home, cleanup = maildir, os.path.dirname(maildir), []
    env = {"HOME": home, "USER": os.environ.get("USER", "nobody"),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return spawn(dovecot_argv(home, mail), env, cwd="/", home=home, maildir=mail,
                 cleanup=cleanup, **kwargs)


def ours_argv(extra_args: Sequence[str] = (), preauth: bool = True) -> list[str]:
    argv = [sys.executable, "-m", "imapsession"]
    if preauth:
        argv.append("--preauth")
    if running_as_root():
        argv.append("--allow-root")
    return argv + list(extra_args)


def ours_env(home: str, maildir: str, **extra: str) -> dict[str, str]:
    """A clean environment for our server: no peer variables leak in from the test runner."""
    user = os.environ.get("USER") or ("root" if running_as_root() else "user")
    env = {"HOME": home, "USER": user, "LOGNAME": user, "MAIL": f"maildir:{maildir}",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
           "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def spawn_ours(maildir: str | None, extra_args: Sequence[str] = (), *, copy: bool = True,
               preauth: bool = True, env_extra: Mapping[str, str] | None = None,
               **kwargs) -> ImapProcess:
    """Our server (``python -m imapsession --preauth``) on a private copy of ``maildir``."""
    if copy:
        top, home, mail = make_home(maildir)
        cleanup = [top]
    else:
        mail, home, cleanup = maildir, os.path.dirname(maildir), []
    env = ours_env(home, mail, **dict(env_extra or {}))
    return spawn(ours_argv(extra_args, preauth), env, cwd=home, home=home, maildir=mail,
                 cleanup=cleanup, **kwargs)


def tagged(responses: Sequence[bytes]) -> bytes:
    """The tagged (last) response of a command."""
    return responses[-1]


def status_of(responses: Sequence[bytes]) -> bytes:
    """``OK``, ``NO`` or ``BAD`` from the tagged response."""
    return responses[-1].split(b" ", 2)[1]
