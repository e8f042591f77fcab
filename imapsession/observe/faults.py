"""Test-only fault injection. Off unless the command line enables it
(``IMAPSESSION_FAULTS=COMMAND:KIND,...`` read by cli.py); no client can turn it on."""

from __future__ import annotations

import os
import signal
import time

ENVIRONMENT = "IMAPSESSION_FAULTS"
KINDS = ("raise", "untrusted", "segv", "hang", "import")  # import: observe/guard.point


class InjectedFault(RuntimeError):
    """Raised on purpose by a test to exercise the internal-error path."""


def parse(text: str | None) -> dict[str, str]:
    """``"NOOP:raise,CHECK:segv"`` -> {"NOOP": "raise", "CHECK": "segv"}; bad items ignored."""
    faults = {}
    for item in (text or "").split(","):
        name, _, kind = item.strip().partition(":")
        if name and kind in KINDS:
            faults[name.upper()] = kind
    return faults


def inject(kind: str, command: object) -> None:
    injected_command = command  # a named local, so crash reports show their locals work
    if kind == "raise":
        raise InjectedFault(f"injected fault in {injected_command}")
    if kind == "untrusted":
        from imapsession.storage.base import StateUntrusted

        raise StateUntrusted("injected fault: state left half-changed")
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "hang":
        time.sleep(3600)
    if kind == "import":  # a lazy import that fails, as where the code cannot be read
        import importlib

        importlib.import_module("imapsession._injected_missing_module")
