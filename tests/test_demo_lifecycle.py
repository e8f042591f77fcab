"""``--demo`` leaves nothing behind and never serves as root; ``--version`` answers.

The real binary: LOGOUT, a client that drops the connection, SIGTERM and SIGHUP
to the process the caller started, SIGKILL of the serving child, ``--demo-keep``.
The demo's directory is made under a TMPDIR of the test's own, so that what is
left behind (or not) can be seen.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import imapproc


@pytest.fixture
def tmpdir_for_demo():
    """A TMPDIR the demo user (nobody, when the tests run as root) can create a directory in."""
    top = tempfile.mkdtemp(prefix="demo-tmp-", dir="/tmp")
    os.chmod(top, 0o1777)
    yield Path(top)
    shutil.rmtree(top, ignore_errors=True)


def _env(tmpdir: Path) -> dict[str, str]:
    return {"HOME": str(tmpdir), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(imapproc.REPO), "LANG": "C.UTF-8", "TMPDIR": str(tmpdir)}


def _demo(tmpdir: Path, *extra: str) -> imapproc.ImapProcess:
    argv = [sys.executable, "-m", "imapsession", "--demo", *extra]
    return imapproc.spawn(argv, _env(tmpdir), cwd="/")


def _left(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir())


def _exit_of(imap: imapproc.ImapProcess) -> int:
    return imap.popen.wait(timeout=20)


def test_version_prints_the_package_version():
    from importlib import metadata

    out = subprocess.run([sys.executable, "-m", "imapsession", "--version"], capture_output=True,
                         env=_env(Path("/tmp")), timeout=30)
    assert out.returncode == 0
    try:
        expected = metadata.version("imapsession")
    except metadata.PackageNotFoundError:
        from imapsession import __version__ as expected
    assert out.stdout == f"imapsession {expected}\n".encode()
    assert re.fullmatch(rb"imapsession \d+\.\d+\.\d+\S*\n", out.stdout)


def test_removed_after_logout(tmpdir_for_demo):
    imap = _demo(tmpdir_for_demo)
    assert b"(a throw-away demo mailbox)" in imap.greeting
    (made,) = _left(tmpdir_for_demo)
    assert made.startswith("imapsession-demo-")
    assert b"EXISTS" in b"".join(imap.command("SELECT INBOX"))
    assert imapproc.status_of(imap.logout()) == b"OK"
    assert _exit_of(imap) == 0
    assert _left(tmpdir_for_demo) == []


def test_removed_when_the_client_drops(tmpdir_for_demo):
    imap = _demo(tmpdir_for_demo)
    imap.command("SELECT INBOX")
    imap.popen.stdin.close()
    _exit_of(imap)
    assert _left(tmpdir_for_demo) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_removed_when_signalled(tmpdir_for_demo, signum):
    imap = _demo(tmpdir_for_demo)
    imap.command("SELECT INBOX")
    imap.popen.send_signal(signum)
    code = _exit_of(imap)
    assert code == 128 + signum, code
    assert _left(tmpdir_for_demo) == []


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found = []
    for task in tasks.iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_removed_when_the_serving_child_is_killed(tmpdir_for_demo):
    imap = _demo(tmpdir_for_demo)
    imap.command("SELECT INBOX")
    (child,) = _children(imap.popen.pid)
    os.kill(child, signal.SIGKILL)
    assert _exit_of(imap) == 128 + signal.SIGKILL
    assert _left(tmpdir_for_demo) == []


def test_demo_keep_keeps_it_and_says_where(tmpdir_for_demo):
    imap = _demo(tmpdir_for_demo, "--demo-keep")
    imap.command("SELECT INBOX")
    imap.logout()
    _exit_of(imap)
    (kept,) = _left(tmpdir_for_demo)
    maildir = tmpdir_for_demo / kept / "Maildir"
    assert (maildir / "cur").is_dir()
    said = imap.stderr_text()
    assert f"kept {maildir}" in said, said


@pytest.mark.skipif(os.geteuid() != 0, reason="serving as nobody needs the tests to run as root")
def test_as_root_it_serves_as_nobody(tmpdir_for_demo):
    imap = _demo(tmpdir_for_demo)
    assert b"Logged in as nobody (a throw-away demo mailbox)" in imap.greeting
    (made,) = _left(tmpdir_for_demo)
    owners = {p.stat().st_uid for p in (tmpdir_for_demo / made).rglob("*")}
    assert owners == {imapproc.NOBODY}
    (child,) = _children(imap.popen.pid)
    status = Path(f"/proc/{child}/status").read_text()
    assert re.search(rf"^Uid:\s+{imapproc.NOBODY}\s+{imapproc.NOBODY}\s+{imapproc.NOBODY}",
                     status, re.M), status
    imap.logout()
    _exit_of(imap)


@pytest.mark.skipif(os.geteuid() != 0, reason="--demo-user needs the tests to run as root")
def test_demo_user_root_is_refused(tmpdir_for_demo):
    out = subprocess.run([sys.executable, "-m", "imapsession", "--demo", "--demo-user", "root"],
                         capture_output=True, env=_env(tmpdir_for_demo), timeout=30)
    assert out.returncode == 2
    assert b"does not serve as root" in out.stderr
    assert _left(tmpdir_for_demo) == []


def test_demo_options_need_demo():
    out = subprocess.run([sys.executable, "-m", "imapsession", "--demo-keep"],
                         capture_output=True, env=_env(Path("/tmp")), timeout=30)
    assert out.returncode == 2
    assert b"--demo-keep and --demo-user go with --demo" in out.stderr


def test_crash_report_keeps_the_directory(tmpdir_for_demo):
    """A crash report in the demo's home would vanish with it: the directory stays."""
    imap = _demo(tmpdir_for_demo)
    (made,) = _left(tmpdir_for_demo)
    crash = tmpdir_for_demo / made / ".local" / "state" / "imapsession" / "crash"
    crash.mkdir(parents=True, exist_ok=True)
    report = crash / "report.txt"
    report.write_text("what a crash report would say\n")
    imap.logout()
    _exit_of(imap)
    assert report.exists()
    assert "a crash report is in" in imap.stderr_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="serving as nobody needs the tests to run as root")
def test_a_python_nobody_cannot_read_is_refused_clearly(tmp_path, tmpdir_for_demo):
    """Started as root from a Python under a private directory, the demo says why it stops."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "imapsession").symlink_to(imapproc.REPO / "imapsession")
    env = dict(_env(tmpdir_for_demo), PYTHONPATH=str(private))
    out = subprocess.run([sys.executable, "-m", "imapsession", "--demo"], input=b"x logout\r\n",
                         capture_output=True, env=env, cwd="/", timeout=30)
    assert out.returncode == 2
    assert out.stdout == b"* BYE The demo cannot start: nobody cannot read this Python's modules.\r\n"
    assert f"nobody cannot read {private}".encode() in out.stderr
    assert _left(tmpdir_for_demo) == []
