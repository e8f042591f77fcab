"""Crash reports, our core dump: everything `gdb bt full` would show, in Python's terms.

A report is one file, readable only by its owner: version, Python, OS, the
effective configuration, the traceback with every frame's local variables (cut
to a sane length, secrets never written), and the session's last commands as a
transcript that ``imapsession --replay REPORT`` feeds to a fresh session.
"""

from __future__ import annotations

import logging
import os
import platform
import reprlib
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType

from imapsession.observe.redact import secret_module, secret_name
from imapsession.storage.liveness import pid_gone
from imapsession.storage.modes import Modes

log = logging.getLogger("imapsession")

TRANSCRIPT_START = "----- transcript (replay with: imapsession --replay THIS-FILE) -----"
TRANSCRIPT_END = "----- end of transcript -----"
_VALUE_LIMIT = 300

_repr = reprlib.Repr()
_repr.maxstring = _VALUE_LIMIT
_repr.maxother = _VALUE_LIMIT
_repr.maxlong = 60
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 12
_repr.maxlevel = 3


def _safe_repr(value: object) -> str:
    try:
        text = _repr.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not hide the crash
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= _VALUE_LIMIT else text[:_VALUE_LIMIT] + "..."


def traceback_with_locals(exc: BaseException) -> str:
    """The traceback, then each frame's locals, innermost last (like `bt full`)."""
    lines = ["Traceback (most recent call last):"]
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}')
        source = traceback.linecache.getline(code.co_filename, tb.tb_lineno).strip()
        if source:
            lines.append(f"    {source}")
        if secret_module(module):
            lines.append("      (locals of authentication code are never written)")
        else:
            for name, value in frame.f_locals.items():
                shown = "<hidden>" if secret_name(name) else _safe_repr(value)
                lines.append(f"      {name} = {shown}")
        tb = tb.tb_next
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
    return "\n".join(lines)


def _masked(config: Mapping[str, object]) -> list[str]:
    return [f"  {key} = {'<hidden>' if secret_name(key) else value}"
            for key, value in sorted(config.items())]


def write_report(
    directory: str,
    exc: BaseException,
    *,
    context: Mapping[str, object],
    config: Mapping[str, object],
    transcript: Iterable[bytes],
    now: float | None = None,
) -> str:
    """Write one report file (mode 0600) and return its path."""
    from imapsession import __version__

    now = time.time() if now is None else now
    private = Modes.private()  # frames' locals may hold mail text, whatever the mail's mode
    private.mkdir(directory)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    path = os.path.join(directory, f"crash-{stamp}-{os.getpid()}.txt")
    sequence = 1
    while os.path.exists(path):  # two errors in one second of one session
        sequence += 1
        path = os.path.join(directory, f"crash-{stamp}-{os.getpid()}-{sequence}.txt")
    text = "\n".join([
        "imapsession crash report",
        f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z', time.localtime(now))}",
        f"imapsession: {__version__}",
        f"python: {sys.version.split()[0]} ({sys.executable})",
        f"os: {platform.platform()}",
        *[f"{key}: {value}" for key, value in context.items()],
        "configuration:",
        *_masked(config),
        "",
        traceback_with_locals(exc),
        "",
        TRANSCRIPT_START,
    ])
    fd = private.open(path)
    with os.fdopen(fd, "wb") as report:
        report.write(text.encode("utf-8", "replace") + b"\n")
        for entry in transcript:
            report.write(entry)
        report.write(b"\n" + TRANSCRIPT_END.encode() + b"\n")
    return path


def read_transcript(path: str) -> bytes:
    """The replayable client bytes from a report."""
    with open(path, "rb") as report:
        data = report.read()
    start = data.index(TRANSCRIPT_START.encode()) + len(TRANSCRIPT_START) + 1
    end = data.rindex(b"\n" + TRANSCRIPT_END.encode())
    return data[start:end]


REPORTED = ".reported.txt"  # a dump some session has already named in the log


def sweep_stacks(directory: str) -> int:
    """Tidy the stack-dump files of sessions that are gone; returns how many were removed.

    A session that exits normally removes its own empty file (``Debugging.close``);
    one killed (SIGKILL, SIGTERM, a dropped inetd connection) cannot, so the next
    session does. A file with a dump in it is never removed: the first session to
    find it says where it is in the log (a fatal signal left no chance to) and
    renames it ``...-PID.reported.txt`` so that it is said once.
    """
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        stem, _, pid = name.removesuffix(".txt").rpartition("-")
        if not (name.startswith("stacks-") and name.endswith(".txt") and stem and pid.isdigit()):
            continue
        path = os.path.join(directory, name)
        try:
            if int(pid) == os.getpid() or not pid_gone(int(pid)):
                continue
            if os.stat(path).st_size == 0:
                os.unlink(path)
                removed += 1
            else:
                reported = path.removesuffix(".txt") + REPORTED
                os.rename(path, reported)
                log.warning("A session that has ended (pid %s) left stack dumps in %s",
                            pid, reported)
        except OSError:
            continue
    return removed


def install_faulthandler(directory: str) -> str:
    """Fatal signals and SIGUSR1 dump every thread's stack into a file (it needs a real fd).

    The file must exist before a fatal signal, when nothing of ours runs any more;
    an empty one is removed at exit, or by the next session when this one is killed.
    """
    import faulthandler
    import signal

    private = Modes.private()
    private.mkdir(directory)
    sweep_stacks(directory)
    path = os.path.join(directory, f"stacks-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt")
    fd = private.open(path, os.O_WRONLY | os.O_APPEND)
    stream = os.fdopen(fd, "w")
    # keep the file object alive for the life of the process
    install_faulthandler.stream = stream  # type: ignore[attr-defined]
    faulthandler.enable(file=stream, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=stream, all_threads=True, chain=False)
    return path
