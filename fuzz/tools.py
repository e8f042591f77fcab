"""``python -m fuzz replay|strip FILE``: the helpers a person runs by hand, with plain errors.

A missing or unreadable file, a file that is no saved case, or wrong arguments get
one line on stderr and exit 2 (a traceback tells the user nothing they can act on);
a reader that closes the pipe early (``strip FILE | head -1``) ends the output quietly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fuzz.case import read_case
from fuzz.replay import replay

USAGE = {"replay": "python -m fuzz replay FILE [session|binary]",
         "strip": "python -m fuzz strip FILE [SESSION]"}
TRANSPORTS = ("session", "binary")


class UsageError(Exception):
    """Bad arguments or an unusable file: reported in one line, exit 2."""


def helper(argv: list[str]) -> int:
    """Run ``replay`` or ``strip``; 0 ok, 1 a replay failed, 2 a usage or file error."""
    name = argv[0]
    try:
        return _quiet_on_closed_pipe(lambda: _run(name, argv[1:]))
    except UsageError as exc:
        print(f"python -m fuzz {name}: {exc}", file=sys.stderr)
        return 2


def _run(name: str, args: list[str]) -> int:
    if not 1 <= len(args) <= 2:
        raise UsageError(f"usage: {USAGE[name]}")
    path = Path(args[0])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        case = read_case(data)
    except (ValueError, UnicodeDecodeError):
        case = None
    if case is None or not case.steps:
        raise UsageError(f"{path} is not a saved case (fuzz/case.py)")
    if name == "strip":
        who = args[1] if len(args) > 1 else "A"
        sys.stdout.buffer.write(b"".join(d for k, w, d in case.steps
                                         if k == "send" and w == who))
        sys.stdout.buffer.flush()
        return 0
    transport = args[1] if len(args) > 1 else None
    if transport is not None and transport not in TRANSPORTS:
        raise UsageError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
    if (case.meta.get("target") == "login" and (transport or case.meta.get("transport")) == "binary"
            and os.geteuid() != 0):
        raise UsageError(f"{path} runs the real server in login mode, which needs root "
                         "(it changes uid); replay it as root, or with the transport session")
    try:
        replay(path, transport)
    except AssertionError as exc:
        print(f"FAIL {path}: {exc}", flush=True)
        return 1
    print(f"ok {path}", flush=True)
    return 0


def _quiet_on_closed_pipe(run) -> int:
    """Run; if stdout's reader went away, stop writing without a traceback."""
    try:
        return run()
    except BrokenPipeError:
        # what is still buffered would raise again at exit: point stdout at nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
