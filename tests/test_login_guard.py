"""Inherited descriptors are closed before a client byte is read; a failure after the
fork (a lazy import that fails) is logged and the client gets ``* BYE``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import pytest
from test_login_world import LAUNCHER, Wire, World, needs_root

pytestmark = needs_root


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()


def spawn_with(argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()):
    server, client = socket.socketpair()
    proc = subprocess.Popen(argv, stdin=server, stdout=server, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", **env}, cwd="/", pass_fds=pass_fds)
    server.close()
    return proc, Wire(client)


def links(pid: int) -> dict[int, str]:
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return out


def children(pid: int) -> list[int]:
    return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]


@pytest.fixture
def inherited():
    """A file opened as root (a secret the session must not get) and a socket."""
    handle = tempfile.NamedTemporaryFile(prefix="imapsession-inherited-")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    fds = (handle.fileno(), listener.fileno())
    for fd in fds:
        os.set_inheritable(fd, True)
    yield fds, {handle.name, f"socket:[{os.fstat(listener.fileno()).st_ino}]"}
    handle.close()
    listener.close()


def assert_none_inherited(pid: int, names: set[str]) -> None:
    held = links(pid)
    assert not names & set(held.values()), held


def test_login_mode_closes_inherited_descriptors(world, inherited):
    fds, names = inherited
    proc, wire = spawn_with(world.argv(), {}, pass_fds=fds)
    wire.line()
    wire.command(b"a", b"NOOP")  # the pre-login child is serving
    [child] = children(proc.pid)
    assert_none_inherited(proc.pid, names)
    assert_none_inherited(child, names)
    assert wire.command(b"b", b"LOGIN bob bob-Secret-1")[-1].startswith(b"b OK")
    assert_none_inherited(proc.pid, names)  # the session, as bob
    wire.command(b"c", b"LOGOUT")
    wire.rest()
    proc.wait(timeout=15)


def test_preauth_closes_inherited_descriptors(world, inherited):
    fds, names = inherited
    env = {"MAIL": f"maildir:{world.home('bob')}/Maildir", "HOME": str(world.home("bob")),
           "PYTHONPATH": str(LAUNCHER.parent.parent)}
    proc, wire = spawn_with([sys.executable, str(LAUNCHER), "--preauth", "--allow-root"],
                            env, pass_fds=fds)
    assert wire.line().startswith(b"* PREAUTH")
    assert_none_inherited(proc.pid, names)
    wire.command(b"a", b"LOGOUT")
    wire.rest()
    proc.wait(timeout=15)


def test_the_check_sees_an_inherited_descriptor(inherited):
    """The test above can fail: a process that keeps them shows them."""
    fds, names = inherited
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE, pass_fds=fds)
    try:
        with pytest.raises(AssertionError):
            assert_none_inherited(proc.pid, names)
    finally:
        proc.communicate(b"", timeout=15)


@pytest.mark.parametrize("point, before", [("CHILD", b""), ("USER", b"a LOGIN bob bob-Secret-1")])
def test_a_failing_import_after_the_fork_is_logged_and_answered_with_bye(world, point, before):
    proc, wire = spawn_with(world.argv(), {"IMAPSESSION_FAULTS": f"{point}:import"})
    assert wire.line().startswith(b"* OK")
    if before:
        wire.send(before + b"\r\n")
    assert wire.line() == b"* BYE Internal error\r\n"
    rest = wire.rest()
    assert proc.wait(timeout=15) == 1
    stderr = proc.stderr.read()
    assert b"Traceback" not in rest + stderr
    log = world.log_text()
    what = "pre-login process" if point == "CHILD" else "login process"
    assert (f"{what} failed: ModuleNotFoundError (module imapsession._injected_missing_module)"
            in log), log
    assert "bob-Secret-1" not in log
