"""A session idle past the limit ends with Dovecot's words (issue: login mode, item 8)."""

from __future__ import annotations

import time

from imapproc import spawn_ours, status_of


def test_idle_session_is_logged_out():
    proc = spawn_ours(None, ["--autologout", "1.5"])
    with proc:
        assert status_of(proc.command("NOOP")) == b"OK"
        started = time.monotonic()
        line = proc.read_response(timeout=20)
        waited = time.monotonic() - started
        assert line == b"* BYE Autologout; idle for too long\r\n"
        assert 1.0 <= waited < 10
        assert proc.wait(10) == 0


def test_activity_keeps_the_session_alive():
    proc = spawn_ours(None, ["--autologout", "2"])
    with proc:
        for _ in range(4):
            time.sleep(1)
            assert status_of(proc.command("NOOP")) == b"OK"
        assert proc.popen.poll() is None
        proc.logout()


def test_idle_command_is_subject_to_the_autologout_too():
    proc = spawn_ours(None, ["--autologout", "1.5"])
    with proc:
        proc.command("SELECT INBOX")
        proc.send_raw(b"i IDLE\r\n")
        assert proc.read_response().startswith(b"+ ")
        assert proc.read_response(timeout=20) == b"* BYE Autologout; idle for too long\r\n"
