"""The outermost frame of a login-mode process: a failure is logged, the client told BYE.

After the fork nothing may print a traceback (stderr may be the client, or the
journal of every user) and the client must not be left hanging: an exception
(a lazy import that fails once the process cannot read the code any more, a
bug) is logged by type, module and place only, never with its arguments (they
may hold credentials), and the client gets ``* BYE Internal error``.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable

from imapsession.observe import faults

BYE = b"* BYE Internal error\r\n"
FAULT_IMPORT = "imapsession._injected_missing_module"  # faults.point: no such module


def describe(exc: BaseException) -> str:
    """Type, the missing module for an ImportError, and the innermost place."""
    text = type(exc).__name__
    if isinstance(exc, ImportError) and exc.name:
        text += f" (module {exc.name})"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        text += f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"
    return text


def run(what: str, body: Callable[..., int], *args: object) -> int:
    """``body(*args)``, or, if it raises, a log line, a BYE and exit status 1."""
    try:
        return body(*args)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        logging.getLogger("imapsession.login").error("%s failed: %s", what, describe(exc))
        try:
            os.write(1, BYE)
        except OSError:
            pass
        return 1


def point(name: str) -> None:
    """Test-only: ``IMAPSESSION_FAULTS=NAME:import`` makes a lazy import fail here."""
    if faults.parse(os.environ.get(faults.ENVIRONMENT)).get(name) == "import":
        import importlib

        importlib.import_module(FAULT_IMPORT)
