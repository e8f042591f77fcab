"""Test-only: Python code a test runs inside a session, after the sandbox is applied.

It lets a test prove what sandboxed code can and cannot reach. Not a backdoor:

* it needs ``--test-hooks`` on the command line (no client can reach argv; in
  inetd mode argv is the admin's) AND ``IMAPSESSION_TEST_HOOK`` in the environment;
* the file must belong to root or to the user the session runs as and must not
  be writable by group or others, so another local user cannot plant code;
* login mode reads it only after authentication, after the drop to the user, so
  the code runs with nothing the user does not already have; the pre-login
  child never looks;
* it is read (before the sandbox closes its directory) and removed from the
  environment in one go, and run once, before the first command.
"""

from __future__ import annotations

import logging
import os
from types import CodeType

ENVIRONMENT = "IMAPSESSION_TEST_HOOK"
FLAG = "--test-hooks"

log = logging.getLogger("imapsession")


def load(enabled: bool) -> CodeType | None:
    """The compiled hook when the flag and the variable both name one, else None."""
    path = os.environ.pop(ENVIRONMENT, None)
    if not enabled or not path:
        return None
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if st.st_uid not in (0, os.geteuid()) or st.st_mode & 0o022:
                log.warning("Test hook %s ignored: not owned by us or writable by others", path)
                return None
            return compile(handle.read(), path, "exec")
    except (OSError, SyntaxError) as exc:
        log.warning("Test hook %s ignored: %s", path, exc)
        return None


def run(code: CodeType | None, **names: object) -> None:
    """Run the hook with ``names`` as its globals (e.g. ``mail_root``)."""
    if code is not None:
        exec(code, {"__name__": "imapsession_test_hook", **names})  # noqa: S102 - test-only
