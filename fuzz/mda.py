"""Mail arriving from outside, as a mail delivery agent writes it: into maildir ``new/`` or an mbox.

Written here, not borrowed from ``imapsession.storage``: an MDA is someone else's
program, and a delivery that used the server's own lock code would hide a lock bug.
The mbox delivery is what postfix's local and procmail do: ``PATH.lock`` (O_EXCL),
an fcntl write lock, a ``From `` line, body lines that begin ``From `` quoted as
``>From ``, one empty line after the message.
"""

from __future__ import annotations

import fcntl
import os
import time

LOCK_WAIT = 30.0


def deliver_maildir(folder: str, name: str, message: bytes, when: float | None) -> None:
    """``tmp/`` then rename into ``new/``; the file's mtime is its INTERNALDATE."""
    tmp = os.path.join(folder, "tmp", name)
    with open(tmp, "wb") as handle:
        handle.write(message)
    if when is not None:
        os.utime(tmp, (when, when))
    os.rename(tmp, os.path.join(folder, "new", name))


def mbox_entry(message: bytes, when: float, sender: str = "MAILER-DAEMON") -> bytes:
    """The bytes an MDA appends for ``message``: From line, quoted body, a blank line."""
    text = message.replace(b"\r\n", b"\n")
    if text.startswith(b"From "):
        text = b">" + text
    text = text.replace(b"\nFrom ", b"\n>From ")
    if not text.endswith(b"\n"):
        text += b"\n"
    stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(when))
    return f"From {sender}  {stamp}\n".encode() + text + b"\n"


def deliver_mbox(path: str, message: bytes, when: float, *, create: bool = False,
                 sender: str = "MAILER-DAEMON") -> None:
    """Append to the mbox at ``path`` under its dot-lock and an fcntl write lock.

    ``create``: make the file if it is missing, as MDAs do for a spool INBOX.
    (The tests' ``mbox_helpers.deliver`` is this too.)
    """
    lock = path + ".lock"
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0), 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            os.write(fd, mbox_entry(message, when, sender))
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        os.unlink(lock)
