"""The post-login sandbox (docs/SANDBOX.md): Landlock after the session is the user.

Code run inside a real session (the test-only hook) cannot read what plain
permissions would let it read (a world-readable file elsewhere, another user's
world-readable Maildir, this checkout's tests and pyproject.toml) and can still
read and write its own mail and import a module not loaded yet; the same hook
without the sandbox reads them all, so the test has teeth. A real session does
SELECT, FETCH, APPEND, COPY, MOVE, EXPUNGE and RENAME under it on both backends,
the mbox one with its INBOX (and dot-lock) in a separate spool directory. Below
the ABI a backend needs, or without Landlock, the server logs once and goes on.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from imapproc import REPO, ours_argv, ours_env, spawn, spawn_ours, tagged
from imapsession import sandbox
from imapsession.sandbox import landlock
from imapsession.sandbox.policy import MIN_ABI, READ_WRITE, for_session

ABI, WHY_NOT = landlock.abi_version()
needs_landlock = pytest.mark.skipif(
    ABI < max(MIN_ABI.values()),
    reason=f"needs Landlock ABI {max(MIN_ABI.values())} (Linux 6.2+, CONFIG_SECURITY_LANDLOCK "
           f"and landlock in lsm=); here: ABI {ABI} {WHY_NOT}")

MARK = "SANDBOX-HOOK "
HOOK = r'''
import json, os, sys
result = {"already_loaded": "colorsys" in sys.modules or "imapclient" in sys.modules,
          "uid": os.getuid()}
def attempt(name, action):
    try:
        action()
        result[name] = "ok"
    except OSError as exc:
        result[name] = exc.__class__.__name__
def read(path):
    with open(path, "rb") as handle:
        handle.read(1)
for name, path in json.loads(os.environ["SANDBOX_PROBES"]).items():
    attempt(name, lambda path=path: read(path))
def own_mail():
    path = os.path.join(mail_root, "hook-was-here")
    with open(path, "w") as handle:
        handle.write("mine")
    with open(path) as handle:
        assert handle.read() == "mine"
    os.unlink(path)
attempt("own_mail", own_mail)
def imports():
    import colorsys, imapclient  # noqa: F401 - stdlib and site-packages, both lazy
attempt("import_late", imports)
with open(os.path.join(mail_root, "hook-result.json"), "w") as handle:
    json.dump(result, handle)
sys.stderr.write("SANDBOX-HOOK " + json.dumps(result) + "\n")
sys.stderr.flush()
'''


def _hook(tmp_path: Path) -> Path:
    path = tmp_path / "hook.py"
    path.write_text(HOOK)
    path.chmod(0o644)
    return path


def _probes(tmp_path: Path) -> dict[str, str]:
    """World-readable files the sandboxed session must not reach."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not mail")
    other = tmp_path / "other-home" / "Maildir" / "cur"
    other.mkdir(parents=True)
    letter = other / "1.other:2,S"
    letter.write_text("Subject: someone else's\n\nhello\n")
    for path in (outside, letter):
        path.chmod(0o644)
    for path in (tmp_path, *letter.parents):
        if path == tmp_path.parent:
            break
        path.chmod(0o755)
    return {"outside": str(outside), "other_users_mail": str(letter),
            "checkout_tests": str(REPO / "tests" / "conftest.py"),
            "checkout_pyproject": str(REPO / "pyproject.toml"), "passwd": "/etc/passwd"}


def _hook_result(tmp_path: Path, *extra: str) -> tuple[dict, str]:
    proc = spawn_ours(None, ["--test-hooks", *extra],
                      env_extra={"IMAPSESSION_TEST_HOOK": str(_hook(tmp_path)),
                                 "SANDBOX_PROBES": json.dumps(_probes(tmp_path))})
    with proc:
        assert tagged(proc.logout()).startswith(b"A0001 OK")
    text = proc.stderr_text()
    found = re.search(f"^{MARK}(.*)$", text, re.M)
    assert found, text
    result = json.loads(found.group(1))
    assert result.pop("uid") == os.getuid()
    return result, text


@needs_landlock
def test_sandboxed_code_reaches_its_mail_and_imports_but_nothing_else(tmp_path):
    result, stderr = _hook_result(tmp_path)
    assert not result.pop("already_loaded"), "pick modules the server has not imported"
    assert result == {"outside": "PermissionError", "other_users_mail": "PermissionError",
                      "checkout_tests": "PermissionError",
                      "checkout_pyproject": "PermissionError", "passwd": "PermissionError",
                      "own_mail": "ok", "import_late": "ok"}, stderr
    assert "No sandbox" not in stderr


def test_without_the_sandbox_the_same_code_reads_everything(tmp_path):
    """The control: what the sandbox denies above is readable by plain permissions."""
    result, _ = _hook_result(tmp_path, "--no-sandbox")
    result.pop("already_loaded")
    assert set(result.values()) == {"ok"}, result


def test_the_hook_needs_the_flag(tmp_path):
    proc = spawn_ours(None, env_extra={"IMAPSESSION_TEST_HOOK": str(_hook(tmp_path)),
                                       "SANDBOX_PROBES": json.dumps(_probes(tmp_path))})
    with proc:
        proc.logout()
    assert MARK not in proc.stderr_text()


def test_a_hook_others_may_write_is_ignored(tmp_path):
    hook = _hook(tmp_path)
    hook.chmod(0o666)
    proc = spawn_ours(None, ["--test-hooks"],
                      env_extra={"IMAPSESSION_TEST_HOOK": str(hook),
                                 "SANDBOX_PROBES": json.dumps(_probes(tmp_path))})
    with proc:
        proc.logout()
    text = proc.stderr_text()
    assert MARK not in text and "writable by others" in text


@needs_landlock
@pytest.mark.skipif(os.geteuid() != 0, reason="login mode is started as root")
def test_in_login_mode_the_hook_runs_as_the_user_after_login_under_the_sandbox():
    from test_login_world import World
    from test_login_world import spawn as spawn_login

    world = World()
    try:
        hook = _hook(world.top)
        alice_cur = world.home("alice") / "Maildir" / "cur"
        alice_cur.mkdir()
        letter = alice_cur / "1.alice:2,S"
        letter.write_text("Subject: alice's\n\nhello\n")
        letter.chmod(0o644)
        outside = world.top / "outside.txt"
        outside.write_text("not mail")
        outside.chmod(0o644)
        probes = {"outside": str(outside), "other_users_mail": str(letter),
                  "checkout_tests": str(REPO / "tests" / "conftest.py"), "passwd": "/etc/passwd"}
        proc, wire = spawn_login(world.argv("--test-hooks"), tcp=True,
                                 env={"IMAPSESSION_TEST_HOOK": str(hook),
                                      "SANDBOX_PROBES": json.dumps(probes)})
        wire.line()
        assert wire.command(b"a", b"LOGIN bob bob-Secret-1")[-1].startswith(b"a OK")
        assert wire.command(b"b", b"SELECT INBOX")[-1].startswith(b"b OK")
        assert wire.command(b"c", b"LOGOUT")[-1].startswith(b"c OK")
        wire.rest()
        assert proc.wait(timeout=15) == 0
        result = json.loads((world.home("bob") / "Maildir" / "hook-result.json").read_text())
        assert result.pop("uid") == 60001  # after login, as bob: never the pre-login child
        assert not result.pop("already_loaded")
        assert result == {"outside": "PermissionError", "other_users_mail": "PermissionError",
                          "checkout_tests": "PermissionError", "passwd": "PermissionError",
                          "own_mail": "ok", "import_late": "ok"}
        assert "No sandbox" not in world.log_text()
    finally:
        world.cleanup()


def _session(proc) -> None:
    """APPEND, SELECT, FETCH, COPY, MOVE, EXPUNGE, RENAME: each must answer OK."""
    def ok(line, literals=()):
        answer = proc.command(line, literals)
        assert re.match(rb"A\d+ OK", tagged(answer)), answer
        return b"".join(answer)

    message = b"From: a@example.org\r\nSubject: sandboxed\r\n\r\nbody\r\n"
    ok("CREATE Work")
    ok("APPEND INBOX", [message])
    ok("APPEND INBOX (\\Seen)", [message])
    assert b"2 EXISTS" in ok("SELECT INBOX")
    assert b"sandboxed" in ok("FETCH 1:* (FLAGS BODY.PEEK[])")
    ok("COPY 1 Work")
    ok("MOVE 2 Work")
    ok("STORE 1 +FLAGS (\\Deleted)")
    assert b"* 1 EXPUNGE" in ok("EXPUNGE")
    ok("CLOSE")
    ok("RENAME Work Done")
    assert b"2 EXISTS" in ok("SELECT Done")
    assert b"sandboxed" in ok("FETCH 2 BODY[]")
    assert tagged(proc.logout()).startswith(b"A")


@needs_landlock
def test_a_maildir_session_works_under_the_sandbox():
    proc = spawn_ours(None)
    with proc:
        _session(proc)
    assert "No sandbox" not in proc.stderr_text()


@needs_landlock
def test_an_mbox_session_with_its_inbox_in_a_spool_dir_works_under_the_sandbox(tmp_path):
    home = tmp_path / "home"
    spool = tmp_path / "spool"
    home.mkdir()
    spool.mkdir()
    inbox = spool / "user"
    inbox.write_bytes(b"")
    env = ours_env(str(home), str(home / "mail"), MAIL=f"mbox:{home}/mail:INBOX={inbox}")
    proc = spawn(ours_argv(), env, cwd=str(home), home=str(home))
    with proc:
        _session(proc)
    text = proc.stderr_text()
    assert "No sandbox" not in text and "fcntl locking only" not in text, text
    assert not (spool / "user.lock").exists()


# --- without the kernel feature: log once, go on ----------------------------------------

@pytest.mark.parametrize(("backend", "abi"), [("maildir", 1), ("mbox", 1), ("mbox", 2)])
def test_below_the_abi_a_backend_needs_it_logs_once_and_goes_on(monkeypatch, caplog, tmp_path,
                                                                backend, abi):
    monkeypatch.setattr(landlock, "abi_version", lambda: (abi, ""))
    monkeypatch.setattr(sandbox, "_logged", set())
    monkeypatch.setattr(landlock, "restrict", lambda *a: pytest.fail("must not restrict"))
    with caplog.at_level(logging.WARNING, logger="imapsession.sandbox"):
        for _ in range(2):
            assert sandbox.confine(backend, str(tmp_path / "mail"), None, []) is False
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert f"needs Landlock ABI {MIN_ABI[backend]}" in lines[0] and f"ABI {abi}" in lines[0]


def test_without_landlock_it_logs_the_reason_once(monkeypatch, caplog):
    monkeypatch.setattr(landlock, "abi_version", lambda: (0, "the kernel has no Landlock"))
    monkeypatch.setattr(sandbox, "_logged", set())
    with caplog.at_level(logging.WARNING, logger="imapsession.sandbox"):
        assert not sandbox.confine("maildir", "/nonexistent", None, [])
        assert not sandbox.confine("maildir", "/nonexistent", None, [])
    assert [r.getMessage() for r in caplog.records] == ["No sandbox: the kernel has no Landlock"]


def test_abi_detection_answers_a_version_or_a_reason():
    abi, why = landlock.abi_version()
    assert abi >= 0 and (abi > 0) != bool(why)


def test_the_handled_rights_are_limited_to_what_the_abi_knows():
    assert landlock.handled_mask(0) == 0
    assert landlock.handled_mask(1) == (1 << 13) - 1
    assert landlock.handled_mask(2) == (1 << 14) - 1 and landlock.handled_mask(2) & landlock.REFER
    assert landlock.handled_mask(3) == landlock.handled_mask(4) == (1 << 15) - 1
    assert landlock.handled_mask(5) == landlock.handled_mask(7) == (1 << 16) - 1
    assert not landlock.handled_mask(1) & (landlock.REFER | landlock.TRUNCATE)


def test_the_policy_opens_the_mail_and_spool_not_the_home_or_the_checkout(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    policy = for_session("mbox", str(home / "mail"), "/var/mail/user",
                         [str(home / ".local/state/imapsession/crash")])
    assert policy.read_write[:3] == (str(home / "mail"), "/var/mail",
                                     str(home / ".local/state/imapsession/crash"))
    assert (home / "mail").is_dir() and (home / ".local/state/imapsession/crash").is_dir()
    allowed = policy.read_write + policy.read_only
    assert str(home) not in allowed and "/" not in allowed and str(REPO) not in allowed
    assert str(REPO / "imapsession") in policy.read_only
    assert policy.min_abi == 3 and (str(home / "mail"), READ_WRITE) in policy.rules()


def test_an_installed_package_keeps_its_site_packages_open(tmp_path, monkeypatch):
    """``pip install .`` puts the package beside its dependencies: they must stay importable
    (the README's demo, sandboxed, imports setproctitle from there); a checkout stays closed."""
    import sys

    import imapsession
    from imapsession.sandbox.policy import python_paths

    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    checkout = tmp_path / "src"
    monkeypatch.setattr(imapsession, "__path__", [str(site / "imapsession")])
    monkeypatch.setattr(sys, "path", [str(site)])
    assert str(site) in python_paths([])
    monkeypatch.setattr(imapsession, "__path__", [str(checkout / "imapsession")])
    monkeypatch.setattr(sys, "path", [str(checkout)])
    paths = python_paths([])
    assert str(checkout) not in paths and str(checkout / "imapsession") in paths
