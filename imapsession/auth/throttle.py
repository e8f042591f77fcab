"""How failed logins are slowed down and when the session is ended."""

from __future__ import annotations

MAX_FAILURES = 3  # then "* BYE"


def delay(failures: int, base: float) -> float:
    """Seconds to wait before answering the ``failures``-th failure: base, 2*base, 4*base..."""
    if failures < 1:
        return 0.0
    return base * (2 ** (failures - 1))


def exhausted(failures: int) -> bool:
    return failures >= MAX_FAILURES
