"""Becoming someone else for good: groups, gid, uid, no_new_privs, and a check.

"A failed drop ends the session": every function here raises PrivilegeError
instead of carrying on half-privileged.
"""

from __future__ import annotations

import ctypes
import os
import resource

PR_SET_NO_NEW_PRIVS = 38


class PrivilegeError(RuntimeError):
    """Dropping privileges did not work as required."""


def set_no_new_privs() -> None:
    """No exec of a setuid program can ever give this process privileges back."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise PrivilegeError(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")


def drop_to(uid: int, gid: int, groups: list[int]) -> None:
    """Set supplementary groups, then real/effective/saved gid and uid; prove it stuck."""
    if uid == 0:
        raise PrivilegeError("refusing to drop to uid 0")
    try:
        os.setgroups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise PrivilegeError(f"cannot become uid {uid} gid {gid}: {exc.strerror}") from None
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise PrivilegeError("uid or gid did not change")
    if sorted(os.getgroups()) != sorted(set(groups)):
        raise PrivilegeError("supplementary groups did not change")
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise PrivilegeError("setuid(0) still works after dropping privileges")
    set_no_new_privs()


def forbid_fork() -> None:
    """For the pre-login child: it has no reason to start processes."""
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    except (OSError, ValueError) as exc:
        raise PrivilegeError(f"setrlimit(RLIMIT_NPROC): {exc}") from None
