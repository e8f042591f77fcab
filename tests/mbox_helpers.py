"""mbox test helpers: deliver as an MDA does, and spawn our server or Dovecot's on an mbox.

``deliver`` appends the way postfix's local and procmail do: ``PATH.lock`` plus an
fcntl write lock, a From line, ``From `` lines in the body quoted, one empty
line after the message. ``drain_new`` turns the transcript tests' outside
deliveries into a maildir ``new/`` into such mbox deliveries, so the same
transcripts run unchanged on both backends.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

from imapproc import DOVECOT_IMAP, NOBODY, REPO, ImapProcess


def deliver(mbox: str | Path, message: bytes, date: float | None = None,
            sender: str = "MAILER-DAEMON") -> None:
    """Append ``message`` (LF or CRLF) to ``mbox`` under dot-lock and fcntl, as an MDA."""
    mbox = str(mbox)
    lock = mbox + ".lock"
    deadline = time.monotonic() + 30
    while True:
        try:
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    try:
        fd = os.open(mbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            text = message.replace(b"\r\n", b"\n")
            if text.startswith(b"From "):
                text = b">" + text
            text = text.replace(b"\nFrom ", b"\n>From ")
            if not text.endswith(b"\n"):
                text += b"\n"
            stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(date))
            os.write(fd, f"From {sender}  {stamp}\n".encode() + text + b"\n")
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        os.unlink(lock)


def drain_new(root: Path, inbox: Path) -> None:
    """Deliver files dropped into ``root/new`` (maildir style) into the INBOX mbox."""
    new = root / "new"
    try:
        names = sorted(os.listdir(new))
    except FileNotFoundError:
        return
    for name in names:
        path = new / name
        deliver(inbox, path.read_bytes(), date=path.stat().st_mtime)
        path.unlink()


def spawn_ours_mbox(root: str, inbox: str, *, env: dict | None = None,
                    timeout: float = 15.0) -> ImapProcess:
    """Our server in preauth mode on an mbox tree (as the invoking user)."""
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": root,
               "USER": os.environ.get("USER", "tester"), "PYTHONPATH": str(REPO),
               "MAIL": f"mbox:{root}:INBOX={inbox}"}
    environ.update(env or {})
    args = ["python3", "-m", "imapsession", "--preauth"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    popen = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=environ, cwd=str(REPO))
    return ImapProcess(popen, timeout=timeout, home=root)


def spawn_dovecot_mbox(home: str, *, timeout: float = 15.0) -> ImapProcess:
    """Dovecot's imap as nobody on ``home/mail`` (INBOX ``home/mail/inbox``); home is chowned."""
    for dirpath, dirnames, filenames in os.walk(home):
        for entry in (dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)):
            os.lchown(entry, NOBODY, NOBODY)
    args = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", "-i",
            f"HOME={home}", "USER=nobody", DOVECOT_IMAP, "-o",
            f"mail_location=mbox:{home}/mail:INBOX={home}/mail/inbox"]
    popen = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    return ImapProcess(popen, timeout=timeout, home=home)
