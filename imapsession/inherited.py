"""Descriptors a front end left open beyond stdin, stdout and stderr: closed first.

A front end (or whatever started it) may leak descriptors into the session: a
listening socket, another client's connection, a file opened as root. The
pre-login process runs as nobody and the session as the user, and neither may
inherit what they could not open, so they are closed before anything else runs.
"""

from __future__ import annotations

import os


def close_inherited() -> None:
    """Close every descriptor above 2 (close_range(2) on Linux: one system call).

    Descriptors above the open-files limit (opened before it was lowered) are
    found in /proc/self/fd.
    """
    try:
        limit = max(os.sysconf("SC_OPEN_MAX"), 1024)
    except (OSError, ValueError):
        limit = 65536
    os.closerange(3, limit)
    try:
        left = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in left:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:  # the listing's own descriptor, already closed
                pass
