"""The process title shows who, what and where: ``imapsession [user remote COMMAND INBOX]``.

Like Dovecot's verbose process titles, so ``ps`` finds the session that hangs:
the command while one runs (``IDLE`` while idling), ``idle`` while the session
waits for the client, and the selected mailbox either way. Only the command's
name is shown, never its arguments.
"""

from __future__ import annotations

MAX_MAILBOX = 60  # a title is for ps, not for a whole long mailbox name


def _setter():
    try:
        from setproctitle import setproctitle
    except ImportError:  # optional: without it titles simply stay as they are
        return None
    return setproctitle


def title(prefix: str, command: str | None, mailbox: str | None) -> str:
    """``command`` None means the session is waiting for the client."""
    words = [prefix, command or "idle"]
    if mailbox is not None:
        words.append(mailbox if len(mailbox) <= MAX_MAILBOX else mailbox[:MAX_MAILBOX] + "...")
    return "imapsession [" + " ".join(words) + "]"


class ProcessTitle:
    def __init__(self, user: str, remote: str | None):
        self._set = _setter()
        self._prefix = f"{user} {remote or 'local'}"

    def __call__(self, command: str | None, mailbox: str | None = None) -> None:
        if self._set is not None:
            self._set(title(self._prefix, command, mailbox))
