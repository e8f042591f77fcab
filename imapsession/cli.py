"""The command line: choose the mode, point stderr away from a socket, greet, run a session.

Start-up time is paid on every connection: the refusals (root, a network peer,
a bad MAIL=) are decided with the standard library's lightest modules, and the
session machinery is imported only for a session that will run.
"""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: imapsession [--preauth | --demo | --login] [--allow-root]

A secure IMAP server for one session on standard input and output.

  --preauth     pre-authenticate as the invoking user even if a network peer may
                be on stdin (you hand your mail to whoever is connected)
  --demo        serve a throw-away maildir full of sample mail
  --login       require LOGIN/AUTHENTICATE (not available yet)
  --allow-root  for tests only: allow a pre-authenticated session as root

Mail location: MAIL=maildir:PATH (default maildir:~/Maildir), as Dovecot reads it.
"""

_FLAGS = ("--preauth", "--demo", "--login", "--allow-root")


def _parse(argv: list[str]) -> set[str] | str:
    """The flags given, or a usage error. Hand-rolled: argparse costs 20 ms per spawn."""
    flags: set[str] = set()
    for arg in argv:
        if arg in ("-h", "--help"):
            return "help"
        if arg not in _FLAGS:
            return f"imapsession: unknown option {arg!r}\n\n{USAGE}"
        flags.add(arg)
    if len(flags & {"--preauth", "--demo", "--login"}) > 1:
        return f"imapsession: --preauth, --demo and --login exclude each other\n\n{USAGE}"
    return flags


def _protect_stderr() -> None:
    """Under inetd fd 2 is the client: never let a stray print reach it."""
    import stat

    try:
        mode = os.fstat(2).st_mode
    except OSError:
        return
    if stat.S_ISSOCK(mode):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def _refuse(text: str) -> int:
    """Tell the peer why there is no session, as an IMAP BYE, and exit non-zero."""
    os.write(1, f"* BYE {text}\r\n".encode())
    return 1


def main(argv: list[str] | None = None) -> int:
    _protect_stderr()
    flags = _parse(sys.argv[1:] if argv is None else argv)
    if flags == "help":
        sys.stdout.write(USAGE)
        return 0
    if isinstance(flags, str):
        sys.stderr.write(flags)
        return 2
    from imapsession.config import peer_reason

    if "--login" in flags:
        return _refuse("Login mode is not available yet; run with --preauth over a pipe.")
    # the demo serves only its own throw-away maildir, so root may run it
    if os.geteuid() == 0 and not flags & {"--allow-root", "--demo"}:
        return _refuse("Refusing to pre-authenticate as root; run as the mail user.")
    if not flags & {"--preauth", "--demo"}:
        reason = peer_reason(os.environ)
        if reason is not None:
            return _refuse(f"Refusing to pre-authenticate: {reason} (use --preauth to force).")
    import pwd

    entry = pwd.getpwuid(os.geteuid())
    home = os.environ.get("HOME") or entry.pw_dir
    if "--demo" in flags:
        root = _make_demo()
    else:
        from imapsession.config import MailLocation, MailLocationError

        try:
            root = MailLocation.parse(os.environ.get("MAIL") or "maildir:~/Maildir", home).path
        except MailLocationError as exc:
            return _refuse(f"Bad MAIL setting: {exc}")
    return _serve(root, entry.pw_name)


def _make_demo() -> str:
    import tempfile

    from imapsession.demo import build_demo_maildir

    root = os.path.join(tempfile.mkdtemp(prefix="imapsession-demo-"), "Maildir")
    build_demo_maildir(root)
    sys.stderr.write(f"imapsession demo: serving {root}\n")
    return root


def _serve(root: str, user: str) -> int:
    """Open the mail, greet, run the session.

    The greeting goes out once the session can serve (like Dovecot's, after its
    storage is initialised): a mail store that cannot be opened is answered
    with BYE instead of a PREAUTH that the next command would betray.
    """
    from imapsession import driver
    from imapsession.session import Session
    from imapsession.storage.base import StorageError
    from imapsession.storage.maildir import open_maildir

    try:
        store = open_maildir(root, create=True)
    except (OSError, StorageError) as exc:
        return _refuse(f"Can't open the mailbox at {root}: {exc}")
    try:
        return driver.run(Session(store, user))
    finally:
        store.close()
