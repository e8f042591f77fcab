"""The demo's lifetime: a private throw-away home, served as an unprivileged user, then removed.

A small parent process owns the temporary directory and a child serves the
session. The parent removes the directory once the child has gone, however it
went: LOGOUT, the client dropping the connection, SIGTERM or SIGHUP (forwarded
to the child), a crash, or even SIGKILL of the child. Only a SIGKILL of the
parent itself leaves the directory behind. Started as root, the child serves as
``nobody`` (or ``--demo-user``): preauth refuses root everywhere, and the demo's
only privilege is that it needs no mail of its own.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

DEFAULT_ROOT_USER = "nobody"


class DemoError(Exception):
    """The demo cannot start (unknown or privileged --demo-user)."""


def _identity(user: str | None) -> tuple[int, int, str] | None:
    """(uid, gid, name) to serve as, or None to stay who we are."""
    import pwd

    if os.geteuid() != 0:
        if user is not None and user != pwd.getpwuid(os.geteuid()).pw_name:
            raise DemoError("--demo-user needs root")
        return None
    try:
        entry = pwd.getpwnam(user or DEFAULT_ROOT_USER)
    except KeyError:
        raise DemoError(f"no such user: {user or DEFAULT_ROOT_USER}") from None
    if entry.pw_uid == 0:
        raise DemoError(f"the demo does not serve as root ({entry.pw_name} has uid 0)")
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def _build(owner: tuple[int, int, str] | None) -> tuple[str, str]:
    """(temporary top directory, maildir inside it), owned by whoever will serve it."""
    import tempfile

    from imapsession.demo import build_demo_maildir

    top = tempfile.mkdtemp(prefix="imapsession-demo-")
    root = os.path.join(top, "Maildir")
    build_demo_maildir(root)
    if owner is not None:
        uid, gid, _ = owner
        for folder, _dirs, files in os.walk(top):
            os.chown(folder, uid, gid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, gid)
    return top, root


def _serve_child(serve: Callable[[str, str, str], int], root: str, top: str,
                 owner: tuple[int, int, str] | None) -> None:
    """In the child: become the demo user, serve, and leave without running the parent's code."""
    status = 1
    try:
        if owner is None:
            import pwd

            name = pwd.getpwuid(os.geteuid()).pw_name
        else:
            from imapsession.auth.privileges import drop_to

            uid, gid, name = owner
            places = _code_places()
            drop_to(uid, gid, [])
            os.environ.update(HOME=top, USER=name, LOGNAME=name)
            unreadable = next((p for p in places if not os.access(p, os.R_OK | os.X_OK)), None)
            if unreadable:
                sys.stderr.write(
                    f"imapsession demo: {name} cannot read {unreadable}, where this Python "
                    f"loads its modules from; run the demo as an ordinary user, or from a "
                    f"Python {name} can read (a venv made from /usr/bin/python3)\n")
                os.write(1, f"* BYE The demo cannot start: {name} cannot read this Python's "
                            f"modules.\r\n".encode())
                status = 2
                return
        status = serve(root, name, top)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 - the child must reach _exit
        sys.stderr.write(f"imapsession demo: {type(exc).__name__}: {exc}\n")
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)


def _code_places() -> list[str]:
    """Where Python's standard library and our package are loaded from.

    The server imports lazily, so after dropping privileges it must still be able
    to read both (a Python under /root is not readable by nobody).
    """
    import sysconfig

    return [sysconfig.get_path("stdlib"), os.path.dirname(os.path.dirname(__file__))]


def _wait(pid: int) -> int:
    """Wait for the child, passing SIGTERM and SIGHUP on; its exit status as a shell shows it."""
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    # a terminal's ^C reaches the child too (same process group); the parent just waits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def run_demo(serve: Callable[[str, str, str], int], *, keep: bool, user: str | None) -> int:
    """Build the demo maildir, serve it with ``serve(maildir, user, home)`` in a child, clean up."""
    try:
        owner = _identity(user)
    except DemoError as exc:
        sys.stderr.write(f"imapsession: {exc}\n")
        return 2
    top, root = _build(owner)
    after = "kept afterwards: --demo-keep" if keep else "removed when the session ends"
    sys.stderr.write(f"imapsession demo: serving {root} ({after})\n")
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _serve_child(serve, root, top, owner)
    # the child alone speaks to the client: the parent lets go of the connection
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        return _wait(pid)
    finally:
        _clean_up(top, root, keep)


def _clean_up(top: str, root: str, keep: bool) -> None:
    """Remove the demo's directory, unless asked to keep it or a crash report is in it."""
    from imapsession.observe.attach import default_crash_dir

    crash_dir = default_crash_dir(top)  # elsewhere under XDG_STATE_HOME: nothing to save
    try:
        crashed = crash_dir.startswith(top + os.sep) and any(
            entry.stat().st_size for entry in os.scandir(crash_dir))
    except OSError:
        crashed = False
    if keep or crashed:
        why = "a crash report is in " + crash_dir if crashed else "--demo-keep"
        sys.stderr.write(f"imapsession demo: kept {root} ({why})\n")
        return
    import shutil

    shutil.rmtree(top, ignore_errors=True)
