"""Whether the process that left a file behind (a lock, a spool, a stack dump) is gone.

The one test every stale-file rule uses: ``kill(pid, 0)`` answering ESRCH. EPERM
means the process exists under another user, so it is alive; this process is
never gone. Only meaningful for a pid of this host.
"""

from __future__ import annotations

import os


def pid_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
