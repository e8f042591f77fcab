"""The server's notion of time, in one place, so that a test or the fuzzer can fix it.

Wall time (``now``: UIDVALIDITY, internal dates of saved mail, crash stamps) and
elapsed time (``monotonic``: autologout, IDLE polls) come from here. By default
they are the system's. The fuzzer installs a ``FixedClock`` so that a seed means
the same run on every machine; the program reads ``IMAPSESSION_TEST_CLOCK``
(epoch seconds, set by tests only, as ``IMAPSESSION_FAULTS`` is) to freeze its
wall time. Checks against file-system timestamps (is a directory's mtime too
recent to trust?) stay on the system clock: the kernel stamps the files.
"""

from __future__ import annotations

import os
import time

ENVIRONMENT = "IMAPSESSION_TEST_CLOCK"


class FixedClock:
    """Time that moves only when told: ``advance`` moves both wall and elapsed time."""

    def __init__(self, start: float, frozen_monotonic: bool = True):
        self.wall = float(start)
        self.elapsed = 0.0
        self.frozen_monotonic = frozen_monotonic

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.elapsed if self.frozen_monotonic else time.monotonic()

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.elapsed += seconds


_installed: FixedClock | None = None


def now() -> float:
    return time.time() if _installed is None else _installed.now()


def monotonic() -> float:
    return time.monotonic() if _installed is None else _installed.monotonic()


def injected() -> bool:
    return _installed is not None


def install(clock: FixedClock | None) -> None:
    """Use ``clock`` for this process from now on (``None``: the system's again)."""
    global _installed
    _installed = clock


def install_from_environment() -> None:
    """``IMAPSESSION_TEST_CLOCK=<epoch>``: frozen wall time; elapsed time stays real,
    so autologout and IDLE polls still happen in a program nobody can advance."""
    value = os.environ.get(ENVIRONMENT)
    if value:
        try:
            install(FixedClock(float(value), frozen_monotonic=False))
        except ValueError:
            pass
