"""Login mode: privilege separation between a root parent and a pre-login child.

Theory of operation
-------------------
Started as root (inetd, xinetd, systemd, stunnel, socat), with the client on
stdin/stdout. Before a client byte is read the process greets and forks:

* the **child** drops to the login identity (default ``nobody``), sets
  no_new_privs and may not fork; it runs a NOT_AUTHENTICATED ``Session`` until
  LOGIN or AUTHENTICATE, then sends the credentials and every client byte it read
  but did not consume to the parent over a pipe, and waits. A failure is answered
  by the child once the parent's verdict (sent after the growing delay) arrives;
  the third failure ends with ``* BYE``. The child also enforces the pre-login
  timeout.
* the **parent** stays root and parses nothing from the network: it reads the
  child's length-limited request, verifies it (``auth/check.py``: constant time,
  dummy hash for unknown users), counts failures itself (a subverted child gets
  no more tries), and on success kills the child, becomes the user (groups, gid,
  uid; ``setuid(0)`` must then fail), opens the mail store from the template,
  answers the login command and runs the session from the leftover bytes.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

from imapsession.auth import options as login_options

READ_SIZE = 64 * 1024
TEST_HOOK = "IMAPSESSION_TEST_CHILD_STATUS"  # tests: a file where the child writes its ids


def main(login_args: list[str], *, stderr_is_client: bool | None = None,
         test_hooks: bool = False) -> int:
    """Entry from cli.py; returns the exit status (``test_hooks``: see observe/testhook.py)."""
    try:
        config = login_options.parse(login_args)
    except login_options.OptionError as exc:
        return _bye(f"Login mode is misconfigured: {exc}")
    if os.geteuid() != 0:
        return _bye("Login mode must be started as root (it becomes the user who logs in).")
    if config.passwd_file is not None and not os.access(config.passwd_file, os.R_OK):
        return _bye("Login mode is misconfigured: the passwd-file cannot be read.")
    from imapsession import greeting
    from imapsession.auth.remote import remote_address
    from imapsession.auth.transport import secure

    remote = remote_address(os.environ)
    # a loopback peer is as secure as a TLS front end (auth/transport.py)
    config = config._replace(secure_transport=secure(config.secure_transport, os.environ))
    caps = greeting.capabilities(config.append_limit or greeting.DEFAULT_APPEND_LIMIT,
                                 greeting.login_capabilities(config.secure_transport))
    os.write(1, greeting.greeting(None, caps))

    from imapsession.observe import log as observe_log

    observe_log.setup(config.log_file or "syslog", stderr_is_client=stderr_is_client)
    observe_log.set_context(remote=remote)
    _preload_child()
    from imapsession.observe import guard

    request_r, request_w = os.pipe()
    verdict_r, verdict_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(request_r)
        os.close(verdict_w)
        status = 1
        try:
            status = guard.run("pre-login process", _child, config, request_w, verdict_r)
        finally:
            os._exit(status)
    os.close(request_w)
    os.close(verdict_r)
    _preload_session()  # while the child talks to the client
    return guard.run("login process", _parent, config, remote, pid, request_r, verdict_w,
                     test_hooks)


def _bye(text: str) -> int:
    os.write(1, f"* BYE {text}\r\n".encode())
    return 1


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


# --- the pre-login child ---------------------------------------------------------------

def _preload_child() -> None:
    """Import, as root, all the child will run: after the drop it may not read the code."""
    import imapsession.auth.request  # noqa: F401
    import imapsession.auth.sasl  # noqa: F401
    import imapsession.commands.any  # noqa: F401
    import imapsession.commands.auth  # noqa: F401
    import imapsession.session  # noqa: F401
    import imapsession.storage.base  # noqa: F401


def _drop_to_login_user(config: login_options.LoginConfig) -> None:
    import pwd

    from imapsession.auth import privileges

    entry = pwd.getpwnam(config.login_user)
    privileges.drop_to(entry.pw_uid, entry.pw_gid, [entry.pw_gid])
    privileges.forbid_fork()


def _child(config: login_options.LoginConfig, request_w: int, verdict_r: int) -> int:
    import logging

    from imapsession.auth import loglines, request, throttle
    from imapsession.auth.privileges import PrivilegeError
    from imapsession.commands.results import no
    from imapsession.observe import guard
    from imapsession.protocol.limits import configured, pre_login
    from imapsession.session import Session

    log = logging.getLogger("imapsession.login")
    try:
        _drop_to_login_user(config)
    except (PrivilegeError, KeyError) as exc:
        log.error("pre-login process could not drop privileges: %s", exc)
        _write_all(b"* BYE Internal error\r\n")
        return 1
    _test_hook()
    guard.point("CHILD")
    # the unauthenticated parser gets imap-login's small limits (protocol/limits.py)
    session = Session(None, None, limits=pre_login(configured(config.append_limit).max_append))
    session.login_secure = config.secure_transport
    deadline = time.monotonic() + config.login_timeout
    attempts = 0
    while not session.finished:
        if session.pending_login is not None:
            pending = session.pending_login[1]
            os.write(request_w, request.encode(pending, session.unread()))
            verdict = os.read(verdict_r, 1)
            if verdict not in (request.FAILED, request.FAILED_FINAL):
                return 0  # accepted (the parent kills us) or the parent is gone
            attempts += 1
            session.login_failed(no("Authentication failed.", "AUTHENTICATIONFAILED"),
                                 final=verdict == request.FAILED_FINAL
                                 or throttle.exhausted(attempts))
            _write_all(session.receive(b""))
            continue
        left = deadline - time.monotonic()
        ready = select.select([0], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            _write_all(session.bye("Disconnected for inactivity."))
            loglines.disconnected("login timeout", attempts)
            return 0
        data = os.read(0, READ_SIZE)
        if not data:
            loglines.disconnected("connection closed", attempts)
            return 0
        _write_all(session.receive(data))
    if attempts >= throttle.MAX_FAILURES:
        loglines.disconnected("too many failed logins", attempts)
    return 0


def _test_hook() -> None:
    """For tests only (set by the test's environment, not the client): record our ids."""
    path = os.environ.get(TEST_HOOK)
    if path:
        with open(path, "w") as handle:
            handle.write(f"{os.getresuid()} {os.getresgid()} {os.getgroups()}\n")


# --- the root parent -------------------------------------------------------------------

def _parent(config: login_options.LoginConfig, remote: str, pid: int,
            request_r: int, verdict_w: int, test_hooks: bool = False) -> int:
    import logging

    from imapsession.auth import check, loglines, request, throttle

    log = logging.getLogger("imapsession.login")
    failures = 0
    while True:
        try:
            received = request.read(request_r)
        except (request.RequestError, OSError) as exc:
            log.error("bad request from the pre-login process: %s", exc)
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
            return _bye("Internal error")
        if received is None:
            return _reap(pid)
        login, leftover = received
        try:
            verdict = check.check(config, login)
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable passwd-file
            log.error("login check failed: %s", type(exc).__name__)
            verdict = check.Verdict(None, "internal error", 0)
        if verdict.account is not None:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
            loglines.logged_in(verdict.account.user, login.method,
                               config.secure_transport, verdict.account.uid)
            return _become_user(config, remote, verdict.account, login, leftover, test_hooks)
        failures += 1
        loglines.failed(login.user, login.method, config.secure_transport, failures,
                        verdict.reason)
        del login  # the password is not needed any longer
        time.sleep(throttle.delay(failures, config.auth_delay))
        final = throttle.exhausted(failures)
        try:
            os.write(verdict_w, request.FAILED_FINAL if final else request.FAILED)
        except BrokenPipeError:
            return _reap(pid)
        if final:
            return _reap(pid)


def _reap(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


def _groups(config: login_options.LoginConfig, gid: int) -> list[int]:
    groups = [gid]
    if config.privileged_group:
        import grp

        groups.append(grp.getgrnam(config.privileged_group).gr_gid)
    return groups


def expand_template(template: str, user: str, home: str) -> str:
    """Dovecot's variables: %u user, %n its local part, %d its domain, %h home, %% a %."""
    local, _, domain = user.partition("@")
    values = {"u": user, "n": local, "d": domain, "h": home, "%": "%"}
    out, i = [], 0
    while i < len(template):
        char = template[i]
        if char == "%" and i + 1 < len(template) and template[i + 1] in values:
            out.append(values[template[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _become_user(config, remote, account, login, leftover: bytes,
                 test_hooks: bool = False) -> int:
    """Drop root for the user's ids, open their mail, answer the login, serve."""
    import logging

    from imapsession import driver
    from imapsession.auth.privileges import PrivilegeError, drop_to
    from imapsession.config import MailLocation, MailLocationError
    from imapsession.observe import guard
    from imapsession.observe import log as observe_log
    from imapsession.protocol.limits import configured
    from imapsession.session import Session
    from imapsession.storage import open_store
    from imapsession.storage.base import StorageError

    log = logging.getLogger("imapsession.login")
    observe_log.set_context(user=account.user)
    try:
        drop_to(account.uid, account.gid, _groups(config, account.gid))
    except (PrivilegeError, KeyError) as exc:
        log.error("could not become %s: %s", account.user, exc)
        return _bye("Internal error")
    guard.point("USER")
    os.environ.update(HOME=account.home, USER=account.user, LOGNAME=account.user)
    for name in ("MAIL", "REMOTE_HOST", "SOCAT_PEERADDR", "TCPREMOTEIP"):
        os.environ.pop(name, None)
    try:
        os.chdir(account.home)
    except OSError:
        os.chdir("/")
    try:
        location = MailLocation.parse(expand_template(config.mail, account.user, account.home),
                                      account.home)
        hook = _confine(config, location, account.home, test_hooks)
        store = open_store(location, create=True)
    except (MailLocationError, StorageError, OSError) as exc:
        log.error("cannot open mail for %s: %s", account.user, exc)
        return _bye("Internal error: the mailbox cannot be opened.")
    from imapsession.observe import testhook
    from imapsession.observe.attach import Debugging

    # as the user: crash reports and stack dumps in their state directory, rawlog
    # while their ~/imapsession.rawlog/ exists (Dovecot's convention)
    debugging = Debugging(
        user=account.user, home=account.home, remote=remote, crash_dir=None, rawlog_dir=None,
        rawlog_timestamps=False, config={"mode": "login", "mail": config.mail,
                                         "secure_transport": config.secure_transport})
    try:
        session = Session(None, None,
                          limits=configured(config.append_limit, config.discard_limit))
        session.login_secure = config.secure_transport
        debugging.attach(session)
        testhook.run(hook, mail_root=location.path)
        session.complete_login(login.tag, store, account.user)
        _write_all(session.take_output())
        # commands the client pipelined after its login are the driver's first input
        return driver.run(session, greeted=True, autologout_seconds=config.autologout,
                          rawlog=debugging.rawlog(), initial=leftover)
    finally:
        store.close()
        debugging.close()


def _confine(config: login_options.LoginConfig, location, home: str, test_hooks: bool):
    """As the user, before the mail is touched: the sandbox; returns the test hook.

    The hook is read first, while its file is still reachable; only here, after
    authentication, is it ever looked for.
    """
    from imapsession.observe import testhook
    from imapsession.observe.attach import default_crash_dir
    from imapsession.observe.rawlog import user_rawlog_dir

    hook = testhook.load(test_hooks)
    if not config.no_sandbox:
        from imapsession.sandbox import confine

        rawlog = user_rawlog_dir(home)
        confine(location.format, location.path, location.option("INBOX"),
                [default_crash_dir(home), *([rawlog] if rawlog else [])])
    return hook


def _preload_session() -> None:
    """Import, as root, what the session may import late, if the user could not read it.

    Where Python or imapsession lies under a directory closed to other users (a
    pyenv in /root), a lazy import after the drop would fail; codecs are looked up
    lazily too, so then every codec is loaded (about 0.1 s).
    """
    import encodings
    import importlib

    import imapsession
    from imapsession.commands.table import COMMANDS

    for entry in COMMANDS.values():
        importlib.import_module(entry.module)
    for name in ("imapsession.mime", "imapsession.view", "imapsession.driver",
                 "imapsession.storage.maildir", "imapsession.storage.mbox",
                 "imapsession.observe.attach",
                 "imapsession.observe.crash", "email.utils", "array", "bisect",
                 "base64", "binascii"):
        importlib.import_module(name)
    try:
        import setproctitle  # noqa: F401 - optional; titles are skipped without it
    except ImportError:
        pass
    if all(_open_to_others(path) for path in (*encodings.__path__, *imapsession.__path__)):
        return
    import pkgutil

    for info in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module(f"encodings.{info.name}")
        except ImportError:  # Windows-only codecs
            pass
    for info in pkgutil.walk_packages(imapsession.__path__, "imapsession."):
        if info.name.endswith("__main__"):  # importing it would run a second server
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # optional parts whose dependency is missing
            pass


def _open_to_others(path: str) -> bool:
    """Whether any user can read ``path`` (every parent searchable, itself readable)."""
    import stat

    path = os.path.abspath(path)
    try:
        if not os.stat(path).st_mode & stat.S_IROTH:
            return False
        while path != "/":
            path = os.path.dirname(path)
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


if __name__ == "__main__":  # pragma: no cover - cli.py is the entry point
    sys.exit(main(sys.argv[1:]))
