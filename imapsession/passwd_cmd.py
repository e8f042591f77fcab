"""``imapsession passwd``: a passwd-file line for a new user, the password never echoed.

The password comes from the terminal (asked twice, echo off) or, when stdin is not
a terminal, from the first line of stdin; never from the command line, where
``ps`` and shell history would keep it.
"""

from __future__ import annotations

import sys

USAGE = """\
usage: imapsession passwd [--scheme SCHEME] [USER [--uid N] [--gid N] [--home DIR]]

Reads a password (twice from a terminal, without echo; else one line of stdin) and
prints a line for the passwd-file in Dovecot's format, user:{SCHEME}hash:uid:gid::home::
(without USER, only {SCHEME}hash). uid, gid and home default to the system user's.
SCHEME: ARGON2ID (the default when argon2-cffi is installed), BLF-CRYPT, SHA512-CRYPT.
"""

_VALUED = ("--scheme", "--uid", "--gid", "--home")


class UsageError(ValueError):
    """A command line we cannot use; the text says why."""


def parse(argv: list[str]) -> tuple[str | None, dict[str, str]]:
    """(USER or None, {option: value})."""
    user, options, args = None, {}, list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            if not eq:
                if not args:
                    raise UsageError(f"{name} needs a value")
                value = args.pop(0)
            options[name] = value
        elif arg.startswith("-") or user is not None:
            raise UsageError(f"unexpected argument {arg!r} (the password is never an argument)")
        else:
            user = arg
    if user is None and options.keys() & {"--uid", "--gid", "--home"}:
        raise UsageError("--uid, --gid and --home go with USER")
    return user, options


def entry_fields(user: str, options: dict[str, str]) -> tuple[int, int, str]:
    """uid, gid and home: given, else the system user's."""
    if any(c in user for c in ":\n\r\0") or not user:
        raise UsageError("USER must not be empty or contain ':' or a line break")
    import pwd

    try:
        system = pwd.getpwnam(user)
    except KeyError:
        system = None
    try:
        uid = int(options["--uid"]) if "--uid" in options else system.pw_uid
        gid = int(options["--gid"]) if "--gid" in options else system.pw_gid
        home = options["--home"] if "--home" in options else system.pw_dir
    except AttributeError:
        raise UsageError(f"{user} is not a system user: give --uid, --gid and --home") from None
    except ValueError:
        raise UsageError("--uid and --gid are numbers") from None
    if ":" in home or "\n" in home:
        raise UsageError("the home must not contain ':' or a line break")
    return uid, gid, home


def read_password() -> bytes:
    """Twice, without echo, from a terminal; the first line of stdin otherwise."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Retype password: ") != first:
            raise UsageError("the passwords differ")
        password = first.encode("utf-8")
    else:
        password = sys.stdin.buffer.readline().rstrip(b"\r\n")
    if not password:
        raise UsageError("the password is empty")
    return password


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    from imapsession.auth.hashing import NoScheme, make

    try:
        user, options = parse(argv)
        fields = entry_fields(user, options) if user is not None else None
        stored = make(read_password(), options.get("--scheme", "").upper() or None)
    except (UsageError, NoScheme) as exc:
        sys.stderr.write(f"imapsession passwd: {exc}\n")
        return 2
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\n")
        return 1
    if fields is None:
        sys.stdout.write(stored + "\n")
    else:
        uid, gid, home = fields
        sys.stdout.write(f"{user}:{stored}:{uid}:{gid}::{home}::\n")
    return 0
