"""The command line: choose the mode, point stderr away from a socket, greet, run a session.

Start-up time is paid on every connection: the refusals (root, a network peer,
a bad MAIL=) are decided with the standard library's lightest modules, and the
session machinery is imported only for a session that will run.
"""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: imapsession [--preauth | --demo | --login] [options]
       imapsession --version | --help | --bug-report
       imapsession passwd [USER ...]   (a passwd-file line; see imapsession passwd --help)

A secure IMAP server for one session on standard input and output.

  --preauth          pre-authenticate as the invoking user even if a network peer
                     may be on stdin (you hand your mail to whoever is connected)
  --demo             serve a throw-away maildir full of sample mail, removed when
                     the session ends (as nobody when started as root)
  --demo-keep        keep the demo maildir afterwards (its path is printed)
  --demo-user USER   with --demo as root: serve as USER instead of nobody
  --login            require LOGIN/AUTHENTICATE, as root with privilege separation
                     (the default when a network peer may be on stdin); its
                     options (--passwd-file, --secure-transport, ...) are in
                     inetd/README.md
  --allow-root       for tests only: allow a pre-authenticated session as root
  --autologout SECS  end a session idle this long (default 1800, the least RFC 3501
                     allows; shorter is for tests)
  --no-sandbox       do not confine the session's file access with Landlock once it
                     is the user (on by default; see docs/SANDBOX.md)
  --test-hooks       for tests only: run the file IMAPSESSION_TEST_HOOK names inside
                     the session, after the sandbox is applied
  --append-limit N   APPENDLIMIT in octets (default 104857600)
  --discard-limit N  octets of one refused command read and dropped before the
                     session ends instead (default 4 x the APPENDLIMIT)

debugging (see docs/DEBUGGING.md):
  --log TARGET       syslog, stderr or a file path (default: stderr, or syslog when
                     stderr is a socket)
  --crash-dir DIR    where crash reports and stack dumps go
                     (default ~/.local/state/imapsession/crash)
  --rawlog DIR       record the session's bytes (also on while ~/imapsession.rawlog/
                     exists); --rawlog-timestamps prefixes each line with the time
  --replay REPORT    run the transcript of a crash report against MAIL= and print
                     what the server answers
  --bug-report       print what a bug report needs and exit
  --version          print the version and exit

Mail location: MAIL=maildir:PATH (default maildir:~/Maildir) or
MAIL=mbox:ROOT[:INBOX=PATH], as Dovecot reads it.
"""

_FLAGS = ("--preauth", "--demo", "--login", "--allow-root", "--rawlog-timestamps",
          "--bug-report", "--version", "--demo-keep", "--no-sandbox", "--test-hooks")
_VALUED = ("--log", "--crash-dir", "--rawlog", "--replay", "--autologout", "--demo-user",
           "--append-limit", "--discard-limit")
_OCTETS = ("--append-limit", "--discard-limit")


def _parse(argv: list[str]) -> dict[str, str] | str:
    """Options given (flags map to ""), or a usage error.

    Hand-rolled: argparse costs 20 ms on every spawn.
    """
    options: dict[str, str] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if arg in ("-h", "--help"):
            return "help"
        if name in _VALUED:
            if not eq:
                if not args:
                    return f"imapsession: {name} needs a value\n\n{USAGE}"
                value = args.pop(0)
            if name in _OCTETS and not (value.isdigit() and int(value) > 0):
                return f"imapsession: {name} needs a positive number of octets\n\n{USAGE}"
            options[name] = value
        elif arg in _FLAGS:
            options[arg] = ""
        else:
            return f"imapsession: unknown option {arg!r}\n\n{USAGE}"
    if len(options.keys() & {"--preauth", "--demo", "--login", "--replay"}) > 1:
        return f"imapsession: --preauth, --demo, --login and --replay exclude each other\n\n{USAGE}"
    if options.keys() & {"--demo-keep", "--demo-user"} and "--demo" not in options:
        return f"imapsession: --demo-keep and --demo-user go with --demo\n\n{USAGE}"
    return options


def _protect_stderr() -> bool:
    """Under inetd fd 2 is the client: never let a stray print reach it. True if it was."""
    import stat

    try:
        mode = os.fstat(2).st_mode
    except OSError:
        return True  # no usable stderr: treat it as not ours to write to
    if stat.S_ISSOCK(mode):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        return True
    return False


def _refuse(text: str) -> int:
    """Tell the peer why there is no session, as an IMAP BYE, and exit non-zero."""
    os.write(1, f"* BYE {text}\r\n".encode())
    return 1


def main(argv: list[str] | None = None) -> int:
    stderr_was_client = _protect_stderr()
    from imapsession.inherited import close_inherited

    close_inherited()  # before a client byte is read, in every mode
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["passwd"]:  # a tool for the administrator, not a session
        from imapsession.passwd_cmd import main as passwd_main

        return passwd_main(argv[1:])
    from imapsession.auth.options import split_args

    argv, login_args = split_args(argv)
    options = _parse(argv)
    if options == "help":
        sys.stdout.write(USAGE)
        return 0
    if isinstance(options, str):
        sys.stderr.write(options)
        return 2
    if "--version" in options:
        sys.stdout.write(f"imapsession {_version()}\n")
        return 0
    import pwd

    entry = pwd.getpwuid(os.geteuid())
    home = os.environ.get("HOME") or entry.pw_dir
    if "--bug-report" in options:
        return _bug_report(options, home)
    from imapsession.config import peer_reason

    if "--login" in options or (not options.keys() & {"--preauth", "--demo", "--replay"}
                                and peer_reason(os.environ) is not None):
        from imapsession.login import main as login_main

        return login_main(login_args, stderr_is_client=stderr_was_client,
                          test_hooks="--test-hooks" in options)
    # the demo serves only its own throw-away maildir, so root may run it
    if os.geteuid() == 0 and not options.keys() & {"--allow-root", "--demo"}:
        return _refuse("Refusing to pre-authenticate as root; run as the mail user.")
    if not options.keys() & {"--preauth", "--demo", "--replay"}:
        reason = peer_reason(os.environ)
        if reason is not None:
            return _refuse(f"Refusing to pre-authenticate: {reason} (use --preauth to force).")
    from imapsession.config import MailLocation, MailLocationError

    if "--demo" in options:
        from imapsession.demo_run import run_demo

        return run_demo(
            lambda root, user, demo_home: _serve(MailLocation("maildir", root), user,
                                                 demo_home, options, stderr_was_client),
            keep="--demo-keep" in options, user=options.get("--demo-user"))
    try:
        location = MailLocation.parse(_mail_setting(), home)
    except MailLocationError as exc:
        return _refuse(f"Bad MAIL setting: {exc}")
    return _serve(location, entry.pw_name, home, options, stderr_was_client)


def _version() -> str:
    """The installed distribution's version; the source tree's when run from a checkout."""
    from importlib import metadata

    try:
        return metadata.version("imapsession")
    except metadata.PackageNotFoundError:
        from imapsession import __version__

        return __version__


def _mail_setting() -> str:
    return os.environ.get("MAIL") or "maildir:~/Maildir"


def _crash_dir(options: dict[str, str], home: str) -> str:
    from imapsession.observe.attach import default_crash_dir

    return options.get("--crash-dir") or default_crash_dir(home)


def _rawlog_dir(options: dict[str, str], home: str) -> str | None:
    if options.get("--rawlog"):
        return options["--rawlog"]
    from imapsession.observe.rawlog import user_rawlog_dir

    return user_rawlog_dir(home)


def _limits(options: dict[str, str]):
    """The session's input limits (``protocol/limits.py``) from the command line."""
    from imapsession.protocol.limits import configured

    return configured(int(options.get("--append-limit") or 0),
                      int(options.get("--discard-limit") or 0))


def _effective_config(options: dict[str, str], home: str) -> dict[str, object]:
    limits = _limits(options)
    return {
        "mail": _mail_setting(),
        "mode": next((m[2:] for m in ("--demo", "--login", "--replay") if m in options),
                     "preauth"),
        "log": options.get("--log") or "default (stderr; syslog when stderr is a socket)",
        "crash_dir": _crash_dir(options, home),
        "rawlog_dir": _rawlog_dir(options, home) or "off",
        "max_line": limits.max_line,
        "max_literal": limits.max_literal,
        "append_limit": limits.max_append,
        "discard_limit": limits.max_discard,
        "autologout_seconds": _autologout(options),
        "sandbox": "off (--no-sandbox)" if "--no-sandbox" in options else "on (Landlock)",
    }


def _autologout(options: dict[str, str]) -> float:
    try:
        return max(1.0, float(options.get("--autologout") or 30 * 60))
    except ValueError:
        return 30 * 60.0


def _bug_report(options: dict[str, str], home: str) -> int:
    from imapsession.observe.bugreport import render

    config = _effective_config(options, home)
    places = {
        "log": str(config["log"]),
        "crash reports and stack dumps": str(config["crash_dir"]),
        "rawlogs": str(config["rawlog_dir"]),
    }
    sys.stdout.write(render(config, places))
    return 0


def _serve(location, user: str, home: str, options: dict[str, str],
           stderr_was_client: bool) -> int:
    """Open the mail, greet, run the session (or replay a crash report's transcript).

    The greeting goes out once the session can serve (like Dovecot's, after its
    storage is initialised): a mail store that cannot be opened is answered
    with BYE instead of a PREAUTH that the next command would betray.
    """
    from imapsession import driver
    from imapsession.observe import log as observe_log
    from imapsession.observe import testhook
    from imapsession.observe.attach import Debugging
    from imapsession.session import Session
    from imapsession.storage import open_store
    from imapsession.storage.base import StorageError

    observe_log.setup(options.get("--log"), stderr_is_client=stderr_was_client)
    observe_log.set_context(user=user)
    debugging = Debugging(
        user=user, home=home, remote=None, crash_dir=options.get("--crash-dir"),
        rawlog_dir=options.get("--rawlog"),
        rawlog_timestamps="--rawlog-timestamps" in options,
        config=_effective_config(options, home))
    try:
        try:
            from imapsession import clock

            clock.install_from_environment()  # test-only, as IMAPSESSION_FAULTS
            hook = _confine(location, debugging, options)
        except OSError as exc:  # Landlock is there but refused: better no session
            return _refuse(f"Can't start the sandbox: {exc}")
        try:
            store = open_store(location, create=True)
        except (OSError, StorageError) as exc:
            return _refuse(f"Can't open the mailbox at {location.path}: {exc}")
        try:
            session = Session(store, user, limits=_limits(options))
            if "--demo" in options:
                session.greeting_note = "a throw-away demo mailbox"
            debugging.attach(session)
            testhook.run(hook, mail_root=location.path)
            if "--replay" in options:
                return _replay(session, options["--replay"])
            return driver.run(session, rawlog=debugging.rawlog(),
                              autologout_seconds=_autologout(options))
        finally:
            store.close()
    finally:
        debugging.close()


def _confine(location, debugging, options: dict[str, str]):
    """The sandbox, unless --no-sandbox; returns the test hook (read before it closes)."""
    from imapsession.observe import testhook

    hook = testhook.load("--test-hooks" in options)
    if "--no-sandbox" not in options:
        from imapsession.sandbox import confine

        rawlog = debugging.rawlog_dir
        replay = options.get("--replay")
        confine(location.format, location.path, location.option("INBOX"),
                [debugging.crash_dir, *([rawlog] if rawlog and os.path.isdir(rawlog) else [])],
                extra_read=(replay,) if replay else ())
    return hook


def _replay(session, report_path: str) -> int:
    """Feed a crash report's transcript to a session; print what it answers."""
    from imapsession.observe.crash import read_transcript

    out = sys.stdout.buffer
    out.write(session.greeting())
    out.write(session.receive(read_transcript(report_path)))
    out.flush()
    session.leave_selected()
    return session.exit_status
