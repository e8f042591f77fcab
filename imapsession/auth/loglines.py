"""The lines login mode writes: one per failed login, one per login, one per early end.

Where they go (syslog by default, a file by option, never stderr) and the
``imapsession(user)<pid><remote>:`` prefix are ``observe/log.py``'s: the remote
address comes before anything the client chose, and user names are escaped here,
so a name such as ``x rip=192.0.2.1`` or one with a newline cannot steer a
fail2ban rule. Passwords are never passed to any function here.
"""

from __future__ import annotations

import logging
import re

auth_log = logging.getLogger("imapsession.auth")
login_log = logging.getLogger("imapsession.login")

_UNSAFE = re.compile(rb"[^A-Za-z0-9._@+\-]")


def safe_user(user: bytes | str) -> str:
    """A user name as printable ASCII: anything unusual becomes \\xNN."""
    raw = user.encode("utf-8", "replace") if isinstance(user, str) else user
    raw = raw[:128]
    return _UNSAFE.sub(lambda m: f"\\x{m.group()[0]:02x}".encode(), raw).decode("ascii")


def failed(user: bytes, method: str, secured: bool, attempt: int, reason: str) -> None:
    """One line per failed login; fail2ban: ``<<HOST>>: Warning: login failed:``."""
    auth_log.warning("login failed: user=<%s>, method=%s, secured=%s, attempt=%d, reason=%s",
                     safe_user(user), method, _yes(secured), attempt, reason)


def logged_in(user: str, method: str, secured: bool, uid: int) -> None:
    login_log.info("login: user=<%s>, method=%s, secured=%s, uid=%d",
                   safe_user(user), method, _yes(secured), uid)


def disconnected(reason: str, attempts: int) -> None:
    login_log.info("disconnected before login: %s, attempts=%d", reason, attempts)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
