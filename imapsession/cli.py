"""The command line: choose the mode, point stderr away from a socket, run a session."""

from __future__ import annotations

import argparse
import os
import pwd
import stat
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imapsession",
        description="A secure IMAP server for one session on standard input and output.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--preauth", action="store_true",
                      help="pre-authenticate as the invoking user, even if a network peer "
                      "may be on stdin (you hand your mail to whoever is connected)")
    mode.add_argument("--demo", action="store_true",
                      help="serve a throw-away maildir full of sample mail")
    mode.add_argument("--login", action="store_true",
                      help="require LOGIN/AUTHENTICATE (not available yet)")
    parser.add_argument("--allow-root", action="store_true",
                        help="for tests only: allow a pre-authenticated session as root")
    return parser


def _protect_stderr() -> None:
    """Under inetd fd 2 is the client: never let a stray print reach it."""
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
    args = _parser().parse_args(argv)
    from imapsession.config import MailLocation, peer_reason

    if args.login:
        return _refuse("Login mode is not available yet; run with --preauth over a pipe.")
    if os.geteuid() == 0 and not args.allow_root:
        return _refuse("Refusing to pre-authenticate as root; run as the mail user.")
    if not args.preauth and not args.demo:
        reason = peer_reason(dict(os.environ))
        if reason is not None:
            return _refuse(f"Refusing to pre-authenticate: {reason} (use --preauth to force).")
    user = pwd.getpwuid(os.geteuid()).pw_name
    home = os.environ.get("HOME") or pwd.getpwuid(os.geteuid()).pw_dir
    if args.demo:
        import tempfile

        from imapsession.demo import build_demo_maildir

        root = os.path.join(tempfile.mkdtemp(prefix="imapsession-demo-"), "Maildir")
        build_demo_maildir(root)
        location = MailLocation("maildir", root)
        print(f"imapsession demo: serving {root}", file=sys.stderr)
    else:
        try:
            location = MailLocation.parse(os.environ.get("MAIL") or "maildir:~/Maildir", home)
        except ValueError as exc:
            return _refuse(f"Bad MAIL setting: {exc}")
    from imapsession import driver
    from imapsession.session import Session
    from imapsession.storage.maildir import open_maildir

    store = open_maildir(location.path, create=True)
    try:
        return driver.run(Session(store, user))
    finally:
        store.close()
