"""The post-login sandbox: once the session is the user, Landlock confines its files.

Applied in preauth mode as soon as the mail location is known, in login mode
right after the drop to the user and before the mail is opened. no_new_privs is
set first (login mode's drop already set it). The kernel must know the rights
the mail format needs (``policy.MIN_ABI``); where it does not, or has no
Landlock at all, one line is logged and the session goes on unconfined: the
sandbox is a second wall, the permissions are the first. docs/SANDBOX.md says
what it does and does not stop. ``--no-sandbox`` turns it off.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("imapsession.sandbox")
_logged: set[str] = set()


def _log_once(level: int, text: str, *args: object) -> None:
    if text not in _logged:
        _logged.add(text)
        log.log(level, text, *args)


def confine(mail_format: str, root: str, inbox: str | None, state_dirs: list[str],
            extra_read: tuple[str, ...] = ()) -> bool:
    """Restrict this process's file access for good; whether the sandbox is on.

    ``state_dirs`` are written too (crash reports, stack dumps, rawlogs), the
    ``extra_read`` files only read (a crash report being replayed).
    """
    from imapsession.sandbox import landlock

    abi, reason = landlock.abi_version()
    if abi == 0:
        _log_once(logging.WARNING, "No sandbox: %s", reason)
        return False
    from imapsession.sandbox.policy import MIN_ABI, for_session

    if abi < MIN_ABI[mail_format]:
        _log_once(logging.WARNING,
                  "No sandbox: %s needs Landlock ABI %d (renames across directories, "
                  "truncation); this kernel has ABI %d", mail_format, MIN_ABI[mail_format], abi)
        return False
    policy = for_session(mail_format, root, inbox, state_dirs, extra_read)
    # SQLite's temporary files (big sorts, statement journals) go beside the index,
    # not to /var/tmp, which the sandbox closes
    os.environ["SQLITE_TMPDIR"] = policy.read_write[0]
    landlock.restrict(abi, policy.rules())
    return True
