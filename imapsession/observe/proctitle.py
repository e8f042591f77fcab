"""The process title shows who and what: ``imapsession [user remote COMMAND]``.

Like Dovecot's verbose process titles, so ``ps`` finds the session that hangs.
Only the command's name is shown, never its arguments.
"""

from __future__ import annotations


def _setter():
    try:
        from setproctitle import setproctitle
    except ImportError:  # optional: without it titles simply stay as they are
        return None
    return setproctitle


class ProcessTitle:
    def __init__(self, user: str, remote: str | None):
        self._set = _setter()
        self._prefix = f"imapsession [{user} {remote or 'local'}"

    def __call__(self, command: str | None) -> None:
        if self._set is not None:
            self._set(f"{self._prefix} {command}]" if command else f"{self._prefix}]")
