"""Landlock through ctypes: the three system calls, the access rights, the ABI.

The kernel's ABI version says which rights it knows: asking it to handle a right
it does not know fails, so the handled mask is always cut to the running ABI
(``handled_mask``). No dependency: libc's ``syscall()`` and ``prctl()`` suffice.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterable

# the unified system call table: the same numbers on x86_64, aarch64 and the
# other architectures that share it (alpha and mips differ: not listed, no sandbox)
_SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446),
             "riscv64": (444, 445, 446), "ppc64le": (444, 445, 446),
             "s390x": (444, 445, 446)}
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2: rename and link across directories
TRUNCATE = 1 << 14  # ABI 3: truncate(2), O_TRUNC, ftruncate on a file opened here
IOCTL_DEV = 1 << 15  # ABI 5: ioctl on device files

# the only rights a rule on a file (not a directory) may carry
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
# the highest right each ABI knows (ABI 4 added network rules, 6 scopes, 7 logging)
_LAST_RIGHT = {1: MAKE_SYM, 2: REFER, 3: TRUNCATE, 4: TRUNCATE}


class LandlockError(OSError):
    """A Landlock system call failed where it should not have."""


class _RulesetAttr(ctypes.Structure):
    # only handled_access_fs: the kernel takes a shorter struct from older callers
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in linux/landlock.h: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _numbers() -> tuple[int, int, int] | None:
    return _SYSCALLS.get(os.uname().machine)


def abi_version() -> tuple[int, str]:
    """The running kernel's Landlock ABI (0 if none) and, when 0, the reason why."""
    numbers = _numbers()
    if numbers is None:
        return 0, f"Landlock system call numbers unknown on {os.uname().machine}"
    result = _libc().syscall(ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0),
                             ctypes.c_uint32(CREATE_RULESET_VERSION))
    if result >= 0:
        return int(result), ""
    err = ctypes.get_errno()
    if err == errno.ENOSYS:
        return 0, "the kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, Linux 5.13+)"
    if err == errno.EOPNOTSUPP:
        return 0, "Landlock is built in but not enabled (lsm= boot parameter)"
    return 0, f"landlock_create_ruleset: {os.strerror(err)}"


def handled_mask(abi: int) -> int:
    """Every filesystem right ``abi`` knows: all of them are handled (denied unless allowed)."""
    if abi < 1:
        return 0
    last = _LAST_RIGHT.get(abi, IOCTL_DEV)
    return (last << 1) - 1


def set_no_new_privs() -> None:
    """Required before an unprivileged landlock_restrict_self; it is never undone."""
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")


def restrict(abi: int, rules: Iterable[tuple[str, int]]) -> list[str]:
    """Allow each (path, rights) beneath path, deny the rest, for this process for good.

    Rights are cut to what ``abi`` knows and, for a file, to file rights. A path
    that does not exist is skipped; the paths skipped are returned.
    """
    numbers = _numbers()
    if numbers is None:
        raise LandlockError(errno.ENOSYS, "Landlock system call numbers unknown")
    create, add_rule, restrict_self = numbers
    libc = _libc()
    handled = handled_mask(abi)
    attr = _RulesetAttr(handled)
    ruleset = libc.syscall(ctypes.c_long(create), ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        raise LandlockError(ctypes.get_errno(), "landlock_create_ruleset")
    skipped = []
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                skipped.append(path)
                continue
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    rights &= FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled, fd)
                if rule.allowed_access and libc.syscall(
                        ctypes.c_long(add_rule), ctypes.c_int(ruleset),
                        ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
                    raise LandlockError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        set_no_new_privs()
        if libc.syscall(ctypes.c_long(restrict_self), ctypes.c_int(ruleset),
                        ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return skipped
