"""Login mode on a /var/mail-style spool: the mail group kept through the privilege drop
(``--privileged-group mail``, Dovecot's mail_privileged_group) lets the session take
the MDA's dot-lock in a directory only root and the mail group may write."""

from __future__ import annotations

import grp
import os
import stat

import pytest
from mbox_helpers import deliver
from test_login_world import IS_ROOT, World, spawn

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="login mode changes uid: run as root")


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()


def _spool(world: World) -> tuple[str, int]:
    """A spool like Debian's /var/mail (2775 root:mail) holding bob's mbox (bob:mail 0660)."""
    mail_gid = grp.getgrnam("mail").gr_gid
    spool = world.top / "spool"
    spool.mkdir()
    os.chown(spool, 0, mail_gid)
    os.chmod(spool, 0o2775)
    inbox = spool / "bob"
    for i in range(3):
        deliver(inbox, f"Subject: m{i}\n\nbody {i}\n".encode())
    os.chown(inbox, 60001, mail_gid)
    os.chmod(inbox, 0o660)
    return str(spool), mail_gid


def _session(world: World, spool: str, *extra: str, env: dict | None = None):
    argv = world.argv("--mail", f"mbox:%h/mail:INBOX={spool}/%u", *extra)
    proc, wire = spawn(argv, env=env)
    wire.line()
    assert wire.command(b"a", b"LOGIN bob bob-Secret-1")[-1].startswith(b"a OK")
    return proc, wire


def _end(proc, wire) -> None:
    wire.command(b"z", b"LOGOUT")
    proc.wait(timeout=15)


@pytest.mark.parametrize("kept", [True, False])
def test_the_mail_group_makes_the_dot_lock_possible(world, kept):
    spool, mail_gid = _spool(world)
    extra = ("--privileged-group", "mail") if kept else ()
    proc, wire = _session(world, spool, *extra)
    groups = open(f"/proc/{proc.pid}/status").read().split("Groups:")[1].split("\n")[0].split()
    assert (str(mail_gid) in groups) == kept
    wire.command(b"s", b"SELECT INBOX")
    assert wire.command(b"t", b"STORE 1 +FLAGS (\\Deleted)")[-1].startswith(b"t OK")
    assert wire.command(b"e", b"EXPUNGE")[-1].startswith(b"e OK")
    _end(proc, wire)
    warned = "using fcntl locking only" in world.log_text()
    assert warned != kept, world.log_text()
    assert open(f"{spool}/bob", "rb").read().count(b"\nSubject: m") == 2
    mode = os.stat(spool).st_mode
    assert stat.S_IMODE(mode) == 0o2775 and not os.path.exists(f"{spool}/bob.lock")


def test_an_mda_dot_lock_held_answers_inuse(world):
    spool, _ = _spool(world)
    proc, wire = _session(world, spool, "--privileged-group", "mail",
                          env={"IMAPSESSION_MBOX_LOCK_TIMEOUT": "0.5"})
    wire.command(b"s", b"SELECT INBOX")
    lock = f"{spool}/bob.lock"
    with open(lock, "w") as handle:  # an MDA (this live process) is delivering
        handle.write(f"{os.getpid()}\n")
    try:
        answer = wire.command(b"t", b"STORE 1 +FLAGS (\\Seen)")
        assert answer[-1].startswith(b"t NO [INUSE] "), answer
        assert wire.command(b"f", b"FETCH 1 BODY.PEEK[TEXT]")[-1].startswith(b"f OK")
    finally:
        os.unlink(lock)
    assert wire.command(b"u", b"STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"u OK")
    _end(proc, wire)
