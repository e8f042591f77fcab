"""mbox test helpers: deliver as an MDA does, and spawn our server or Dovecot's on an mbox.

``deliver`` appends the way postfix's local and procmail do: ``PATH.lock`` plus an
fcntl write lock, a From line, ``From `` lines in the body quoted, one empty
line after the message. ``drain_new`` turns the transcript tests' outside
deliveries into a maildir ``new/`` into such mbox deliveries, so the same
transcripts run unchanged on both backends.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from fuzz.mda import deliver_mbox
from imapproc import DOVECOT_IMAP, NOBODY, ImapProcess, ours_argv, ours_env, spawn

DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"


def deliver(mbox: str | Path, message: bytes, date: float | None = None,
            sender: str = "MAILER-DAEMON") -> None:
    """Append ``message`` (LF or CRLF) to ``mbox`` under dot-lock and fcntl, as an MDA."""
    deliver_mbox(str(mbox), message, time.time() if date is None else date, create=True,
                 sender=sender)


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


def spawn_ours_mbox(home: str | Path, *, env_extra: dict | None = None,
                    **kwargs) -> ImapProcess:
    """Our server in preauth mode on ``home/mail`` with INBOX ``home/mail/inbox``."""
    home = str(home)
    env = ours_env(home, f"{home}/mail", MAIL=f"mbox:{home}/mail:INBOX={home}/mail/inbox",
                   **dict(env_extra or {}))
    return spawn(ours_argv(), env, cwd=home, home=home, **kwargs)


def chown_tree(top: str | Path, uid: int = NOBODY) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        os.lchown(dirpath, uid, uid)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def dovecot_mbox_argv(home: str | Path, program: str = DOVECOT_IMAP) -> list[str]:
    home = str(home)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", "-i",
            f"HOME={home}", "USER=nobody", program, "-o",
            f"mail_location=mbox:{home}/mail:INBOX={home}/mail/inbox"]


def spawn_dovecot_mbox(home: str | Path, **kwargs) -> ImapProcess:
    """Dovecot's imap as nobody on ``home/mail`` (INBOX ``home/mail/inbox``); chowns home."""
    chown_tree(home)
    return spawn(dovecot_mbox_argv(home), {"PATH": "/usr/bin:/bin"}, cwd="/", home=str(home),
                 **kwargs)


def lda_deliver(home: str | Path, message: bytes) -> None:
    """Deliver with Dovecot's own MDA, dovecot-lda, as nobody."""
    argv = dovecot_mbox_argv(home, DOVECOT_LDA) + ["-f", "sender@example.org"]
    subprocess.run(argv, input=message, check=True, timeout=30, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def literal(message: bytes) -> bytes:
    return b"{%d}\r\n" % len(message) + message


def open_space() -> Path:
    """A directory nobody can traverse (pytest's tmp_path is root's 0700), for Dovecot."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="imapsession-mbox-"))
    top.chmod(0o755)
    return top
