"""Debugging a live server on the real binary: internal errors, crash reports, replay,
stack dumps on signals, process titles, rawlog, the bug report (issue: debugging)."""

from __future__ import annotations

import base64
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from imapproc import REPO, ours_argv, ours_env, spawn_ours, status_of
from imapsession.observe import faults
from imapsession.session import Session

PASSWORD = "Tr0ub4dor&3-horse"
SERVERBUG = re.compile(
    rb"^(\S+) NO \[SERVERBUG\] Internal error occurred\. Refer to server log for more "
    rb"information\. \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]\r\n\Z")


def _debug_server(tmp_path: Path, faults_spec: str | None = None, *extra: str):
    crash_dir, log_file, rawlog_dir = tmp_path / "crash", tmp_path / "server.log", tmp_path / "raw"
    rawlog_dir.mkdir(exist_ok=True)
    env = {faults.ENVIRONMENT: faults_spec} if faults_spec else {}
    proc = spawn_ours(None, ["--crash-dir", str(crash_dir), "--log", str(log_file),
                             "--rawlog", str(rawlog_dir), *extra], env_extra=env)
    return proc, crash_dir, log_file, rawlog_dir


def _secret_forms() -> list[bytes]:
    plain = f"\0bob\0{PASSWORD}".encode()
    return [PASSWORD.encode(), base64.b64encode(plain), base64.b64encode(PASSWORD.encode())]


def test_internal_error_answers_serverbug_logs_locals_and_writes_a_replayable_report(tmp_path):
    proc, crash_dir, log_file, _ = _debug_server(tmp_path, "CHECK:raise")
    with proc:
        assert status_of(proc.command("SELECT INBOX")) == b"OK"
        assert status_of(proc.command("APPEND INBOX", [b"Subject: hi\r\n\r\nhello\r\n"])) == b"OK"
        failed = proc.command("CHECK")
        assert SERVERBUG.match(failed[-1]), failed
        # the session goes on where it is safe
        assert status_of(proc.command("FETCH 1 (FLAGS)")) == b"OK"
        proc.logout()
    log = log_file.read_text()
    assert "Internal error in CHECK" in log
    assert "injected_command = Command(tag=" in log  # a frame's locals
    reports = list(crash_dir.glob("crash-*.txt"))
    assert len(reports) == 1
    assert f"Crash report written to {reports[0]}" in log
    assert stat.S_IMODE(reports[0].stat().st_mode) == 0o600
    text = reports[0].read_text()
    for heading in ("imapsession: ", "python: ", "os: ", "configuration:", "Traceback"):
        assert heading in text
    assert "SELECT INBOX" in text and "CHECK" in text
    # one command from the crash to a reproducer: replay against a mailbox of our choice
    home = tmp_path / "replayhome"
    (home / "Maildir").mkdir(parents=True)
    env = ours_env(str(home), str(home / "Maildir"), **{faults.ENVIRONMENT: "CHECK:raise"})
    argv = ours_argv(["--replay", str(reports[0]), "--crash-dir", str(tmp_path / "again"),
                      "--log", str(tmp_path / "again.log")], preauth=False)
    replay = subprocess.run(argv, env=env, capture_output=True, timeout=60, cwd=str(home))
    assert b"NO [SERVERBUG]" in replay.stdout, replay.stdout + replay.stderr
    assert b"[APPENDUID " in replay.stdout


def test_no_password_reaches_log_report_or_rawlog(tmp_path):
    proc, crash_dir, log_file, rawlog_dir = _debug_server(tmp_path, "NOOP:raise")
    plain = base64.b64encode(f"\0bob\0{PASSWORD}".encode()).decode()
    with proc:
        proc.command(f'LOGIN bob "{PASSWORD}"')
        proc.command("LOGIN bob", [PASSWORD.encode()])
        proc.command(f"AUTHENTICATE PLAIN {plain}")
        assert b"[SERVERBUG]" in proc.command("NOOP")[-1]
        proc.logout()
    files = [log_file, *crash_dir.glob("*"), *rawlog_dir.glob("*")]
    assert len(list(rawlog_dir.glob("*"))) == 2 and list(crash_dir.glob("crash-*"))
    for path in files:
        data = path.read_bytes()
        for secret in _secret_forms():
            assert secret not in data, f"{secret!r} in {path}"
    report = next(crash_dir.glob("crash-*")).read_bytes()
    assert b"LOGIN bob <hidden>" in report and b"AUTHENTICATE PLAIN <hidden>" in report


def test_rawlog_holds_exactly_the_bytes_exchanged(tmp_path):
    proc, _, _, rawlog_dir = _debug_server(tmp_path)
    sent = [b"a SELECT INBOX\r\n", b"b APPEND INBOX {11+}\r\nSubject: x\r\n", b"c NOOP\r\n",
            f"d LOGIN bob {PASSWORD}\r\n".encode(), b"e LOGOUT\r\n"]
    received = [proc.greeting]
    with proc:
        for line in sent:
            tag = line.split(b" ")[0].decode()
            proc.send_raw(line)
            received.extend(proc.read_until_tagged(tag))
        proc.close()
    log_in = next(rawlog_dir.glob("*.in")).read_bytes()
    log_out = next(rawlog_dir.glob("*.out")).read_bytes()
    expected_in = b"".join(sent).replace(PASSWORD.encode(), b"<hidden>")
    assert log_in == expected_in
    assert log_out == b"".join(received)


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigusr1_dumps_the_stack_and_the_session_still_answers(tmp_path):
    proc, crash_dir, _, _ = _debug_server(tmp_path)
    with proc:
        assert status_of(proc.command("NOOP")) == b"OK"
        os.kill(proc.popen.pid, signal.SIGUSR1)  # blocked in select(), waiting for input
        stacks = lambda: [p for p in crash_dir.glob("stacks-*") if p.stat().st_size]  # noqa: E731
        assert _wait_for(stacks)
        text = stacks()[0].read_text()
        assert "driver.py" in text and "in run" in text
        assert status_of(proc.command("NOOP")) == b"OK"
        proc.logout()


def test_sigsegv_leaves_a_stack_and_the_log_says_where(tmp_path):
    proc, crash_dir, log_file, _ = _debug_server(tmp_path, "NOOP:segv")
    with proc:
        proc.send_raw(b"a NOOP\r\n")
        assert proc.wait(30) == -signal.SIGSEGV
    dumps = list(crash_dir.glob("stacks-*"))
    assert len(dumps) == 1
    text = dumps[0].read_text()
    assert "Fatal Python error: Segmentation fault" in text
    assert "faults.py" in text and "session.py" in text
    # the dead process could not say where; the next session does, once
    for _ in range(2):
        again, _, _, _ = _debug_server(tmp_path)
        with again:
            again.logout()
    (reported,) = crash_dir.glob("stacks-*")
    assert reported.name == dumps[0].name.removesuffix(".txt") + ".reported.txt"
    assert reported.read_text() == text
    log = log_file.read_text()
    assert log.count(f"left stack dumps in {reported}") == 1, log


def test_the_stack_dump_file_is_not_announced_at_every_login(tmp_path):
    proc, _, log_file, _ = _debug_server(tmp_path)
    with proc:
        proc.logout()
    assert "dump Python stacks" not in log_file.read_text()


def test_a_killed_sessions_empty_stack_file_is_removed_by_the_next_session(tmp_path):
    proc, crash_dir, _, _ = _debug_server(tmp_path)
    with proc:
        assert status_of(proc.command("NOOP")) == b"OK"
        killed = list(crash_dir.glob("stacks-*"))
        assert len(killed) == 1 and killed[0].stat().st_size == 0
        proc.popen.kill()  # no exit handler runs: the empty file stays behind
        proc.popen.wait()
    live = crash_dir / "stacks-20200101-000000-1.txt"  # empty, but pid 1 lives: kept
    live.write_text("")
    other = crash_dir / "stacks-20200101-000000-999999999.txt"  # gone, but holds a dump
    other.write_text("Fatal Python error\n")
    assert killed[0].exists()
    proc, _, _, _ = _debug_server(tmp_path)
    with proc:
        assert status_of(proc.command("NOOP")) == b"OK"
        assert not killed[0].exists()
        # the dump is kept, renamed once the log has said where it is
        reported = crash_dir / "stacks-20200101-000000-999999999.reported.txt"
        assert live.exists() and reported.read_text() == "Fatal Python error\n"
        proc.logout()
    assert sorted(crash_dir.glob("stacks-*")) == sorted([live, reported])


def test_process_title_names_user_and_command_never_arguments(tmp_path):
    proc, _, _, _ = _debug_server(tmp_path, "SELECT:hang")
    with proc:
        proc.send_raw(b"a SELECT secret-folder-name\r\n")
        cmdline = Path(f"/proc/{proc.popen.pid}/cmdline")
        assert _wait_for(lambda: b"SELECT]" in cmdline.read_bytes())
        title = cmdline.read_bytes().replace(b"\0", b" ").strip()
        assert re.fullmatch(rb"imapsession \[\S+ local SELECT\]", title), title
        assert b"secret-folder-name" not in title
        proc.popen.kill()


def _title(proc) -> bytes:
    return Path(f"/proc/{proc.popen.pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()


def test_process_title_tells_idle_from_running_and_names_the_mailbox(tmp_path):
    """ps during a hang hunt: waiting is "idle", IDLE is "IDLE", a running command its name."""
    proc, _, _, _ = _debug_server(tmp_path, "FETCH:hang")
    with proc:
        assert _wait_for(lambda: re.fullmatch(rb"imapsession \[\S+ local idle\]", _title(proc)))
        proc.command("SELECT INBOX")
        assert _wait_for(lambda: _title(proc).endswith(b" local idle INBOX]")), _title(proc)
        proc.send_raw(b"i IDLE\r\n")
        assert proc.read_response().startswith(b"+ ")
        assert _wait_for(lambda: _title(proc).endswith(b" local IDLE INBOX]")), _title(proc)
        proc.send_raw(b"DONE\r\n")
        assert proc.read_response().startswith(b"i OK")
        assert _wait_for(lambda: _title(proc).endswith(b" local idle INBOX]")), _title(proc)
        proc.send_raw(b"f FETCH 1:* (FLAGS)\r\n")
        assert _wait_for(lambda: _title(proc).endswith(b" local FETCH INBOX]")), _title(proc)
        proc.popen.kill()


def test_faults_are_off_by_default_and_no_client_can_turn_them_on(tmp_path):
    proc, crash_dir, _, _ = _debug_server(tmp_path)
    with proc:
        for line in ("NOOP", "CHECK", "ENABLE FAULTS", f"ID ({faults.ENVIRONMENT!r} \"NOOP:raise\")"):
            assert b"SERVERBUG" not in b"".join(proc.command(line))
        proc.logout()
    assert not list(crash_dir.glob("crash-*"))
    assert Session(None, None).faults == {}
    assert faults.parse("NOOP:raise,BOGUS,FETCH:nonsense") == {"NOOP": "raise"}


def test_untrusted_state_ends_the_session_with_bye_and_a_non_zero_exit(tmp_path):
    proc, crash_dir, _, _ = _debug_server(tmp_path, "CHECK:untrusted")
    with proc:
        proc.command("SELECT INBOX")
        answer = proc.command("CHECK")
        assert answer[0] == b"* BYE Internal error\r\n"
        assert b"[SERVERBUG]" in answer[-1]
        assert proc.wait(30) == 1
    assert list(crash_dir.glob("crash-*"))


def test_bug_report_says_what_a_report_needs(tmp_path):
    env = ours_env(str(tmp_path), str(tmp_path / "Maildir"), PASSWORD_HINT="x")
    out = subprocess.run([sys.executable, "-m", "imapsession", "--bug-report",
                          "--crash-dir", str(tmp_path / "c")], env=env, capture_output=True,
                         text=True, timeout=60, cwd=str(REPO)).stdout
    for needle in ("imapsession: ", "python: ", "attrs: ", "os: ", "distribution: ",
                   "effective configuration", f"crash reports and stack dumps: {tmp_path / 'c'}",
                   f"mail = maildir:{tmp_path / 'Maildir'}"):
        assert needle in out, needle


def test_login_session_hides_the_password_from_log_report_and_rawlog():
    """The issue's case: a real login (LOGIN and AUTHENTICATE PLAIN) with a known
    password, a crash report, a rawlog; the password appears in none of them."""
    import pytest
    from test_login_world import USERS, World, spawn

    if os.geteuid() != 0:
        pytest.skip("login mode needs root to drop privileges to the test users")
    world = World()
    try:
        password = USERS["bob"][1]
        rawlog_dir = world.home("bob") / "imapsession.rawlog"
        rawlog_dir.mkdir()
        os.chown(rawlog_dir, 60001, 60001)
        env = {faults.ENVIRONMENT: "NOOP:raise"}
        for method in (b"LOGIN bob " + password.encode(),
                       b"AUTHENTICATE PLAIN " + base64.b64encode(f"\0bob\0{password}".encode())):
            proc, wire = spawn(world.argv(), env=env)
            wire.line()
            assert wire.command(b"a", method)[-1].startswith(b"a OK")
            assert b"[SERVERBUG]" in wire.command(b"b", b"NOOP")[-1]
            assert wire.command(b"c", b"LOGOUT")[-1].startswith(b"c OK")
            proc.wait(timeout=30)
        crash_dir = world.home("bob") / ".local" / "state" / "imapsession" / "crash"
        reports = list(crash_dir.glob("crash-*"))
        rawlogs = list(rawlog_dir.glob("*"))
        assert len(reports) == 2 and len(rawlogs) == 4
        log = world.log_text()
        assert "Crash report written to" in log
        for data in [log.encode()] + [p.read_bytes() for p in reports + rawlogs]:
            assert password.encode() not in data
            assert base64.b64encode(f"\0bob\0{password}".encode()) not in data
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in reports + rawlogs)
        assert all(p.stat().st_uid == 60001 for p in reports + rawlogs)
    finally:
        world.cleanup()
