"""rawlog: the exact bytes of a session, in and out, with credentials hidden.

Like Dovecot's rawlog: ``YYYYMMDD-HHMMSS-PID.in`` and ``.out`` in a directory
(``--rawlog DIR``, or ``~/imapsession.rawlog/`` when it exists). TLS is already
removed by the front end (stunnel), so the files hold the IMAP bytes. With
timestamps each line is prefixed by the time it was seen.

``imapsession-rawlog COMMAND...`` wraps any stdin/stdout IMAP server (ours or
Dovecot's) the same way.
"""

from __future__ import annotations

import os
import sys
import time

from imapsession.observe.redact import InputRedactor
from imapsession.storage.modes import Modes

USER_DIRECTORY = "imapsession.rawlog"


class RawLog:
    """Tap for one session: call ``client()`` with bytes read, ``server()`` with bytes sent."""

    def __init__(self, directory: str, timestamps: bool = False):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = os.path.join(directory, f"{stamp}-{os.getpid()}")
        private = Modes.private()  # the bytes of the session: mail text
        self._in = private.open(base + ".in", os.O_WRONLY | os.O_APPEND)
        self._out = private.open(base + ".out", os.O_WRONLY | os.O_APPEND)
        self.paths = (base + ".in", base + ".out")
        self._timestamps = timestamps
        self._at_line_start = {self._in: True, self._out: True}
        self._redactor = InputRedactor()

    def _write(self, fd: int, data: bytes) -> None:
        if self._timestamps:
            data = self._stamp(fd, data)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def _stamp(self, fd: int, data: bytes) -> bytes:
        now = b"%.6f " % time.time()
        out = bytearray()
        for line in data.splitlines(keepends=True):
            if self._at_line_start[fd]:
                out += now
            out += line
            self._at_line_start[fd] = line.endswith(b"\n")
        return bytes(out)

    def client(self, data: bytes) -> None:
        self._write(self._in, self._redactor.feed(data))

    def server(self, data: bytes) -> None:
        self._redactor.note_server(data)
        self._write(self._out, data)

    def close(self) -> None:
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass


def user_rawlog_dir(home: str) -> str | None:
    """Dovecot's convention: logging is on while this directory exists."""
    path = os.path.join(home, USER_DIRECTORY)
    return path if os.path.isdir(path) else None


USAGE = """\
usage: imapsession-rawlog [-d DIR] [-t] COMMAND [ARG...]

Run an IMAP server that speaks on stdin/stdout (imapsession, Dovecot's imap, ...)
and record the session's bytes in DIR (default ~/imapsession.rawlog) as
YYYYMMDD-HHMMSS-PID.in and .out, with credentials replaced by <hidden>.
  -t   prefix every line with the time it was seen
"""


def main(argv: list[str] | None = None) -> int:
    """``imapsession-rawlog``: relay stdin/stdout to a child server, logging both ways."""
    import select
    import subprocess

    args = list(sys.argv[1:] if argv is None else argv)
    directory = os.path.join(os.path.expanduser("~"), USER_DIRECTORY)
    timestamps = False
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option == "-d" and args:
            directory = args.pop(0)
        elif option == "-t":
            timestamps = True
        elif option == "--":
            break
        else:
            sys.stderr.write(USAGE)
            return 2
    if not args:
        sys.stderr.write(USAGE)
        return 2
    Modes.private().mkdir(directory)
    log = RawLog(directory, timestamps)
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
    inputs = [0, from_child]
    try:
        while from_child in inputs:
            ready, _, _ = select.select(inputs, [], [])
            for fd in ready:
                data = os.read(fd, 65536)
                if fd == 0:
                    if not data:
                        inputs.remove(0)
                        child.stdin.close()
                        continue
                    log.client(data)
                    _write_all(to_child, data)
                else:
                    if not data:
                        inputs.remove(from_child)
                        continue
                    log.server(data)
                    _write_all(1, data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        log.close()
    return child.wait()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
