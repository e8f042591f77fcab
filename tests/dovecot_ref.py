"""Run Dovecot's ``imap`` binary on a copy of a maildir and capture what it says.

Dovecot 2.3 is the reference server for byte-exact behaviour.  Its ``imap``
binary speaks IMAP on stdin/stdout after a ``* PREAUTH`` greeting; it refuses
to run as root and writes index files into the maildir, so each run works on
a private copy owned by the user it runs as (``nobody`` when we are root).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
_NOBODY = 65534


def dovecot_available() -> bool:
    """True when the reference binary is installed and executable."""
    return os.access(DOVECOT_IMAP, os.X_OK)


def write_maildir(dest: Path, messages: Iterable[bytes]) -> Path:
    """Create a maildir at ``dest`` holding ``messages`` in ``cur/`` in order.

    Names sort in the given order, so Dovecot numbers them 1, 2, 3...
    """
    for sub in ("cur", "new", "tmp"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    for index, raw in enumerate(messages, start=1):
        name = f"{1000000000 + index}.M{index}P1.imapsession:2,S"
        (dest / "cur" / name).write_bytes(raw)
    return dest


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(base, name), uid, gid)


def run_commands(
    messages: Sequence[bytes] | None,
    commands: Sequence[bytes | str],
    *,
    maildir: Path | None = None,
    select: bool = True,
    timeout: float = 120,
) -> bytes:
    """Run Dovecot's imap on a fresh maildir and return everything it wrote.

    Either ``messages`` (written into a new maildir) or an existing ``maildir``
    (copied) is used.  ``commands`` are lines without tags or CRLF; each gets
    tag ``T<n>`` (1-based).  When ``select`` is true, ``S SELECT INBOX`` goes
    first.  A ``L LOGOUT`` is appended; the raw output is returned unchanged.
    """
    if not dovecot_available():
        raise FileNotFoundError(DOVECOT_IMAP)
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="dovecot-ref-") as tmp:
        home = Path(tmp)
        box = home / "Maildir"
        if maildir is not None:
            shutil.copytree(maildir, box)
        else:
            write_maildir(box, messages or ())
        lines = [b"S SELECT INBOX"] if select else []
        for number, command in enumerate(commands, start=1):
            data = command.encode() if isinstance(command, str) else command
            lines.append(b"T%d " % number + data)
        lines.append(b"L LOGOUT")
        script = b"".join(line + b"\r\n" for line in lines)
        argv = [DOVECOT_IMAP, "-o", f"mail_location=maildir:{box}"]
        env = {"HOME": str(home), "USER": "nobody" if as_root else os.environ.get("USER", "user")}
        if as_root:
            _chown_tree(home, _NOBODY, _NOBODY)
            argv = [
                "setpriv", f"--reuid={_NOBODY}", f"--regid={_NOBODY}", "--clear-groups",
                "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv,
            ]
            env = {}
        output = _converse(argv, env or None, script, timeout)
        if b"* PREAUTH" not in output[:200]:
            raise RuntimeError(f"dovecot imap failed: {output[:500]!r}")
        return output


def _converse(argv: list[str], env: dict[str, str] | None, script: bytes, timeout: float) -> bytes:
    """Send ``script`` and read until the LOGOUT completes, keeping stdin open meanwhile.

    Closing stdin early makes Dovecot treat the client as gone, and it may
    then cut a long FETCH response short.
    """
    import threading

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            proc.stdin.write(script)
            proc.stdin.flush()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    chunks = []
    tail = b""
    try:
        while True:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            tail = (tail + chunk)[-4096:]
            if re.search(rb"(?:^|\r\n)L (?:OK|NO|BAD)[^\r\n]*\r\n", tail):
                break
    finally:
        timer.cancel()
        writer.join(timeout)
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.wait(timeout)
    return b"".join(chunks) + rest


# --- response parsing ----------------------------------------------------------------

_LITERAL = re.compile(rb"\{(\d+)\}\r\n")


def _skip_value(data: bytes, pos: int) -> int:
    """Index just past the IMAP value (list, string, literal or atom) at ``pos``."""
    char = data[pos : pos + 1]
    if char == b"(":
        depth = 0
        while True:
            char = data[pos : pos + 1]
            if not char:
                raise ValueError("unterminated list in response")
            if char == b"(":
                depth += 1
                pos += 1
            elif char == b")":
                depth -= 1
                pos += 1
                if depth == 0:
                    return pos
            elif char in (b'"', b"{") or data[pos : pos + 2] == b"~{":
                pos = _skip_value(data, pos)
            else:
                pos += 1
    if char == b'"':
        pos += 1
        while data[pos : pos + 1] != b'"':
            if pos >= len(data):
                raise ValueError("unterminated quoted string in response")
            pos += 2 if data[pos : pos + 1] == b"\\" else 1
        return pos + 1
    if char == b"~" and data[pos + 1 : pos + 2] == b"{":
        pos += 1
        char = b"{"
    if char == b"{":
        match = _LITERAL.match(data, pos)
        if match is None:
            raise ValueError(f"bad literal at {pos}")
        return match.end() + int(match.group(1))
    while pos < len(data) and data[pos : pos + 1] not in (b" ", b")", b"\r"):
        pos += 1
    return pos


def fetch_items(response: bytes, strict: bool = True) -> dict[int, dict[bytes, bytes]]:
    """Map message number -> {item name as sent: raw value bytes} for every FETCH.

    Item names keep their section and origin (``BODY[1.MIME]``, ``BODY[]<0>``);
    values are the exact wire bytes (a literal includes its ``{n}CRLF``, a
    literal8 its ``~{n}CRLF``).
    Several FETCH responses for one message are merged.  With ``strict``
    false, a response cut short (Dovecot sends ``* BYE`` mid-FETCH when it
    hits an internal error) keeps the items before the cut.
    """
    result: dict[int, dict[bytes, bytes]] = {}
    for match in re.finditer(rb"\* (\d+) FETCH \(", response):
        if match.start() > 0 and response[match.start() - 2 : match.start()] != b"\r\n":
            continue
        items = result.setdefault(int(match.group(1)), {})
        try:
            _parse_items(response, match.end(), items)
        except ValueError:
            if strict:
                raise
    return result


def _parse_items(response: bytes, pos: int, items: dict[bytes, bytes]) -> None:
    while response[pos : pos + 1] != b")":
        start = pos
        depth = 0
        while True:
            char = response[pos : pos + 1]
            if not char:
                raise ValueError("unterminated FETCH response")
            if char == b"[":
                depth += 1
            elif char == b"]":
                depth -= 1
            elif char == b" " and depth == 0:
                break
            pos += 1
        name = response[start:pos]
        pos += 1
        end = _skip_value(response, pos)
        if end > len(response):
            raise ValueError("literal runs past the end of the response")
        items[name] = response[pos:end]
        pos = end
        if response[pos : pos + 1] == b" ":
            pos += 1


def tagged_status(response: bytes, tag: bytes) -> bytes:
    """The tagged completion line (without CRLF) for ``tag``."""
    match = re.search(rb"(?m)^" + re.escape(tag) + rb" (.*?)\r\n", response)
    if match is None:
        raise ValueError(f"no completion for {tag!r}")
    return match.group(1)
