"""``imapsession passwd`` through a pseudo-terminal and through a pipe.

What it prints must verify in auth/verify.py (and in Dovecot's ``doveadm pw -t``
where Dovecot is installed); on a terminal the password is asked twice and never
echoed.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time

import pytest
from conftest import REPO

from imapsession.auth import hashing, verify

COMMAND = [sys.executable, "-m", "imapsession", "passwd"]
PASSWORD = "Tr0ub4dor&3-ümlaut"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def through_pty(args: list[str], answers: list[str]) -> tuple[int, bytes]:
    """Run on a new controlling terminal; type each answer after its prompt."""
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        os.chdir(REPO)
        os.execve(sys.executable, [*COMMAND, *args], ENV)
    output, pending = b"", list(answers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pending and output.count(b"assword: ") > len(answers) - len(pending):
            os.write(master, pending.pop(0).encode() + b"\n")
        if not select.select([master], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def stored_of(line: str) -> str:
    fields = line.split(":")
    return fields[1] if len(fields) > 2 else line


def assert_verifies(stored: str, password: str) -> None:
    assert verify.verify(stored, password.encode())
    assert not verify.verify(stored, (password + "x").encode())
    if shutil.which("doveadm"):
        done = subprocess.run(["doveadm", "pw", "-t", stored, "-p", password],
                              capture_output=True, text=True, timeout=60)
        assert "(verified)" in done.stdout, done.stdout + done.stderr


def test_terminal_asks_twice_without_echo():
    status, output = through_pty(["bob", "--uid", "60001", "--gid", "60002", "--home",
                                  "/home/bob"], [PASSWORD, PASSWORD])
    text = output.decode()
    assert status == 0, text
    assert "Password: " in text and "Retype password: " in text
    assert PASSWORD not in text  # no echo
    line = text.strip().splitlines()[-1]
    assert line.startswith("bob:{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$")
    assert line.endswith(":60001:60002::/home/bob::")
    assert_verifies(stored_of(line), PASSWORD)


def test_terminal_refuses_two_different_passwords():
    status, output = through_pty([], [PASSWORD, PASSWORD + "!"])
    assert status == 2 and b"the passwords differ" in output and b"{ARGON2ID}" not in output


@pytest.mark.parametrize("scheme", ["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT"])
def test_pipe_reads_one_line_and_prints_a_line_that_verifies(scheme):
    done = subprocess.run([*COMMAND, "--scheme", scheme, "root"], input=PASSWORD + "\n",
                          capture_output=True, text=True, env=ENV, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "assword" not in done.stdout  # no prompt on a pipe
    line = done.stdout.strip()
    assert line.startswith("root:{" + scheme + "}") and line.endswith(":0:0::/root::")
    assert_verifies(stored_of(line), PASSWORD)


@pytest.mark.parametrize("args, why", [
    (["bob", PASSWORD], "never an argument"),
    (["no-such-user-here"], "give --uid, --gid and --home"),
    (["bad:name", "--uid", "1", "--gid", "1", "--home", "/h"], "':'"),
    (["--scheme", "MD5"], "unknown scheme"),
])
def test_refusals(args, why):
    done = subprocess.run([*COMMAND, *args], input=PASSWORD + "\n", capture_output=True,
                          text=True, env=ENV, cwd=REPO, timeout=60)
    assert done.returncode == 2 and why in done.stderr and done.stdout == ""


def test_empty_password_is_refused():
    done = subprocess.run(COMMAND, input="\n", capture_output=True, text=True, env=ENV,
                          cwd=REPO, timeout=60)
    assert done.returncode == 2 and "empty" in done.stderr


def test_the_strongest_installed_scheme_is_the_default(monkeypatch):
    assert hashing.best_scheme() == "ARGON2ID"
    monkeypatch.setattr(hashing, "available", lambda scheme: scheme != "ARGON2ID")
    assert hashing.best_scheme() == "BLF-CRYPT"
    monkeypatch.setattr(hashing, "available", lambda scheme: scheme == "SHA512-CRYPT")
    assert hashing.best_scheme() == "SHA512-CRYPT"
    monkeypatch.setattr(hashing, "available", lambda scheme: False)
    with pytest.raises(hashing.NoScheme):
        hashing.best_scheme()
