"""Running one operation of the real server and killing it with SIGKILL.

Two ways to choose the moment:

- before a chosen syscall: a dry run under ``strace`` lists the state-changing
  syscalls the operation makes (from reading its command to writing its tagged
  answer), each as (name, its count in the process so far); a trial runs the
  server under ``strace -e inject=NAME:signal=KILL:when=COUNT``, which kills it
  before that very call runs (the counts are the same from run to run: same
  world, same commands);
- at a random moment: the server runs alone and the test sends SIGKILL after a
  random delay within the operation's measured duration.
"""

from __future__ import annotations

import re
import signal
import tempfile
import threading
import time
from pathlib import Path

import attrs
from crash_world import spawn_server

from imapproc import ImapEOF, ImapProcess, ImapTimeout

# the calls that change state on disk (or tell the client it was changed)
STATE_SYSCALLS = ("write", "pwrite64", "rename", "renameat2", "link", "linkat", "unlink",
                  "unlinkat", "ftruncate", "fsync", "fdatasync", "mkdir", "rmdir")
TAG = "op1"


@attrs.frozen
class Op:
    """One operation: an optional mailbox to select first, a command, an optional literal."""

    select: str | None
    command: str
    literal: bytes | None = None

    def wire(self) -> bytes:
        if self.literal is None:
            return f"{TAG} {self.command}\r\n".encode()
        return b"%s %s {%d+}\r\n%s\r\n" % (TAG.encode(), self.command.encode(),
                                          len(self.literal), self.literal)


@attrs.frozen
class Outcome:
    killed: bool  # the process died of SIGKILL
    answered: bool  # the operation's tagged answer reached us first


def _start(home: Path, backend: str, op: Op, prefix: tuple[str, ...]) -> ImapProcess:
    ours = spawn_server(home, backend, prefix, timeout=60)
    if op.select is not None:
        answer = ours.command(f"SELECT {op.select}")
        assert b" OK " in answer[-1], answer
    return ours


def _send(ours: ImapProcess, data: bytes) -> None:
    try:
        ours.send_raw(data)
    except (BrokenPipeError, ValueError, OSError):
        pass


def _finish(ours: ImapProcess) -> Outcome:
    try:
        answer = ours.read_until_tagged(TAG, timeout=60)
        answered = bool(answer) and answer[-1].startswith(f"{TAG} ".encode())
    except (ImapEOF, ImapTimeout):
        answered = False
    if answered:
        try:
            ours.command("LOGOUT", timeout=30)
        except (ImapEOF, ImapTimeout, BrokenPipeError, OSError):
            pass
    code = ours.close()
    return Outcome(killed=code in (-signal.SIGKILL, 128 + signal.SIGKILL), answered=answered)


def run_plain(home: Path, backend: str, op: Op) -> float:
    """Run ``op`` to its end; the seconds it took (from sending it to its answer)."""
    ours = _start(home, backend, op, ())
    started = time.monotonic()
    writer = threading.Thread(target=_send, args=(ours, op.wire()))
    writer.start()
    answer = ours.read_until_tagged(TAG, timeout=60)
    elapsed = time.monotonic() - started
    writer.join()
    assert b" OK " in answer[-1], answer[-1]
    ours.logout()
    return elapsed


_LINE = re.compile(r"^(?:\d+ +)?([a-z0-9_]+)\((.*)$")


def syscall_points(home: Path, backend: str, op: Op) -> list[tuple[str, int]]:
    """The state-changing syscalls ``op`` makes, in order: (name, its count in the process)."""
    with tempfile.NamedTemporaryFile(prefix="crash-trace-", suffix=".txt") as trace:
        prefix = ("strace", "-f", "-qq", "-s", "12", "-o", trace.name,
                  "-e", "trace=read," + ",".join(STATE_SYSCALLS))
        ours = _start(home, backend, op, prefix)
        writer = threading.Thread(target=_send, args=(ours, op.wire()))
        writer.start()
        answer = ours.read_until_tagged(TAG, timeout=60)
        writer.join()
        assert b" OK " in answer[-1], answer[-1]
        ours.logout()
        lines = Path(trace.name).read_text(errors="replace").splitlines()
    counts: dict[str, int] = {}
    points: list[tuple[str, int]] = []
    during = False
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        name, args = match.groups()
        if name == "read":
            during = during or args.startswith(f'0, "{TAG} ')
            continue
        counts[name] = counts.get(name, 0) + 1
        if during:
            points.append((name, counts[name]))
            if name == "write" and args.startswith(f'1, "{TAG} '):
                break
    assert points, "the dry run saw no state-changing syscall of the operation"
    return points


def kill_before(home: Path, backend: str, op: Op, name: str, count: int) -> Outcome:
    """Run ``op`` under strace, killed before the ``count``-th ``name`` call of the process."""
    prefix = ("strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={name}",
              "-e", f"inject={name}:signal=KILL:when={count}")
    ours = _start(home, backend, op, prefix)
    writer = threading.Thread(target=_send, args=(ours, op.wire()))
    writer.start()
    outcome = _finish(ours)
    writer.join()
    return outcome


def kill_after(home: Path, backend: str, op: Op, delay: float) -> Outcome:
    """Run ``op`` and send SIGKILL ``delay`` seconds after sending it."""
    ours = _start(home, backend, op, ())
    writer = threading.Thread(target=_send, args=(ours, op.wire()))
    writer.start()
    time.sleep(delay)
    ours.popen.send_signal(signal.SIGKILL)
    outcome = _finish(ours)
    writer.join()
    return outcome
