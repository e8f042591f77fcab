"""Login mode's settings: command-line options and an optional ``key = value`` file.

Read before the greeting, so this module imports nothing heavy (a NamedTuple, not
attrs, for the same reason as ``config.MailLocation``).
"""

from __future__ import annotations

from typing import NamedTuple

# option -> (field, kind); "flag" options take no value
OPTIONS: dict[str, tuple[str, str]] = {
    "--passwd-file": ("passwd_file", "str"),
    "--pam": ("pam", "flag"),
    "--login-user": ("login_user", "str"),
    "--first-valid-uid": ("first_valid_uid", "int"),
    "--mail": ("mail", "str"),
    "--secure-transport": ("secure_transport", "flag"),
    "--log-file": ("log_file", "str"),
    "--privileged-group": ("privileged_group", "str"),
    "--login-timeout": ("login_timeout", "float"),
    "--autologout": ("autologout", "float"),
    "--auth-delay": ("auth_delay", "float"),
    "--append-limit": ("append_limit", "octets"),
    "--discard-limit": ("discard_limit", "octets"),
    "--config": ("config", "str"),
    "--no-sandbox": ("no_sandbox", "flag"),
}


# options the preauth command line reads too
SHARED = frozenset({"--autologout", "--no-sandbox", "--append-limit", "--discard-limit"})


class OptionError(ValueError):
    """A login option or config file line we cannot use."""


class LoginConfig(NamedTuple):
    passwd_file: str | None = None  # Dovecot passwd-file; None with --pam only
    pam: bool = False  # check system users through PAM (service "imapsession")
    login_user: str = "nobody"  # who speaks to the client before login
    first_valid_uid: int = 500  # refuse mail users below this uid (and always uid 0)
    mail: str = "maildir:%h/Maildir"  # %u user, %h home, %n/%d local part/domain
    secure_transport: bool = False  # stunnel or loopback in front: plaintext auth allowed
    log_file: str | None = None  # None: syslog (facility mail)
    privileged_group: str | None = None  # extra group for the session (mbox dot-locks)
    login_timeout: float = 60.0  # seconds from greeting to a successful login
    autologout: float = 30 * 60.0  # idle seconds after login before "* BYE Autologout"
    auth_delay: float = 2.0  # first failure's delay; doubles with each further failure
    append_limit: int = 0  # APPENDLIMIT after login; 0: the default (protocol/limits.py)
    discard_limit: int = 0  # refused input dropped per command after login; 0: 4 x APPENDLIMIT
    config: str | None = None
    no_sandbox: bool = False  # True: no Landlock after the drop to the user (docs/SANDBOX.md)


def split_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate login options (with their values) from the other arguments."""
    rest: list[str] = []
    login: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if name in OPTIONS:
            taken = [arg]
            if OPTIONS[name][1] != "flag" and "=" not in arg and i + 1 < len(argv):
                taken.append(argv[i + 1])
                i += 1
            login.extend(taken)
            if name in SHARED:  # meaningful in every mode
                rest.extend(taken)
        else:
            rest.append(arg)
        i += 1
    return rest, login


def _convert(field: str, kind: str, text: str) -> object:
    if kind == "flag":
        if text.lower() in ("yes", "true", "1", "on"):
            return True
        if text.lower() in ("no", "false", "0", "off"):
            return False
        raise OptionError(f"{field}: expected yes or no, not {text!r}")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise OptionError(f"{field}: expected a number, not {text!r}") from None
    if kind == "octets":
        if not text.isdigit():
            raise OptionError(f"{field}: expected a number of octets, not {text!r}")
        return int(text)
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise OptionError(f"{field}: expected seconds, not {text!r}") from None
        if value < 0:
            raise OptionError(f"{field}: must not be negative")
        return value
    return text


def read_file(path: str) -> dict[str, object]:
    """``key = value`` lines (keys are the option names without ``--``); # comments."""
    kinds = {name[2:].replace("-", "_"): spec for name, spec in OPTIONS.items()}
    values: dict[str, object] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise OptionError(f"cannot read config file {path}: {exc.strerror}") from None
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, eq, value = line.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in kinds or key == "config":
            raise OptionError(f"{path}:{number}: unknown setting {key!r}")
        field, kind = kinds[key]
        values[field] = _convert(field, kind, value.strip())
    return values


def parse(login_args: list[str]) -> LoginConfig:
    """Options win over the config file, which wins over the defaults."""
    given: dict[str, object] = {}
    i = 0
    while i < len(login_args):
        arg = login_args[i]
        name, eq, value = arg.partition("=")
        field, kind = OPTIONS[name]
        if kind == "flag":
            given[field] = _convert(field, kind, value) if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(login_args):
                    raise OptionError(f"{name} needs a value")
                value = login_args[i]
            given[field] = _convert(field, kind, value)
        i += 1
    values: dict[str, object] = {}
    if given.get("config"):
        values.update(read_file(str(given["config"])))
    values.update(given)
    config = LoginConfig(**values)  # type: ignore[arg-type]
    if config.passwd_file is None and not config.pam:
        config = config._replace(passwd_file="/etc/imapsession/passwd")
    return config
