"""Where log lines go when nobody said: never to the client, never into a void.

A container has no ``/dev/log``: syslog would mean a UDP port nobody listens on,
so lines go to stderr when stderr is not the client, and one line says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from test_login_world import USERS, World, needs_root

REPO = Path(__file__).resolve().parent.parent


def _setup(target: str | None, stderr_is_client: bool, socket_path: str) -> subprocess.CompletedProcess:
    """Call observe.log.setup in a fresh process, log one line, print where it went."""
    code = f"""
import logging
import imapsession.observe.log as log
log.SYSLOG_SOCKET = {socket_path!r}
where = log.setup({target!r}, stderr_is_client={stderr_is_client!r})
logging.getLogger("imapsession").info("a line")
print(where)
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=30)


def test_no_syslog_socket_falls_back_to_stderr_and_says_so_once():
    out = _setup("syslog", False, "/nonexistent/log")
    assert out.stdout == "stderr\n"
    lines = out.stderr.splitlines()
    assert lines[0].endswith(": WARNING: No syslog socket (/nonexistent/log): "
                             "logging to stderr instead"), lines
    assert lines[1].endswith(": INFO: a line"), lines
    assert len(lines) == 2


def test_stderr_that_is_the_client_is_never_used():
    for target in (None, "stderr", "syslog"):
        out = _setup(target, True, "/nonexistent/log")
        assert out.stdout == "syslog\n", (target, out)
        assert out.stderr == ""


def test_a_syslog_socket_is_used_when_there():
    with tempfile.TemporaryDirectory() as top:
        import socket

        path = os.path.join(top, "log")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
            listener.bind(path)
            out = _setup("syslog", False, path)
            assert out.stdout == "syslog\n"
            assert out.stderr == ""
            listener.settimeout(5)
            assert b"INFO: a line" in listener.recv(4096)


@needs_root
def test_login_mode_without_a_log_setting_logs_somewhere(tmp_path):
    """The real binary in login mode, no --log-file: on stderr here unless /dev/log exists."""
    world = World()
    try:
        argv = [sys.executable, "-m", "imapsession", "--login", "--passwd-file", str(world.passwd),
                "--first-valid-uid", "1000", "--auth-delay", "0.05", "--secure-transport"]
        user = "bob"
        password = USERS[user][1]
        stderr_path = tmp_path / "stderr"
        with open(stderr_path, "wb") as stderr:
            out = subprocess.run(argv, input=f"a login {user} wrong\r\nb logout\r\n".encode(),
                                 stdout=subprocess.PIPE, stderr=stderr, cwd="/", timeout=60,
                                 env={"PATH": os.environ.get("PATH", ""),
                                      "PYTHONPATH": str(REPO)})
        assert b"a NO " in out.stdout
        said = stderr_path.read_text()
        assert password not in said
        if os.path.exists("/dev/log"):
            assert "No syslog socket" not in said
        else:
            assert "No syslog socket (/dev/log): logging to stderr instead" in said
            assert "login failed: user=<bob>, method=LOGIN" in said, said
    finally:
        world.cleanup()
