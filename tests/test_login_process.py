"""Login mode through the real binary, started as root with a socket on stdin."""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

import pytest
from test_login_world import USERS, World, needs_root, spawn

pytestmark = needs_root


@pytest.fixture
def world():
    w = World()
    yield w
    w.cleanup()
GREETING_OK = re.compile(rb"^\* OK \[CAPABILITY [^\]]*\] imapsession ready\.\r\n$")


def plain(authzid: str, user: str, password: str) -> bytes:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode())


def finish(proc, wire) -> bytes:
    rest = wire.rest()
    assert proc.wait(timeout=15) is not None
    return rest


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_login_select_append_as_the_user(world):
    proc, wire = spawn(world.argv(), tcp=True)
    assert GREETING_OK.match(wire.line())
    answer = wire.command(b"a", b"LOGIN bob bob-Secret-1")
    assert answer[-1].startswith(b"a OK [CAPABILITY IMAP4rev1 ")
    # the session runs as bob, with no capability left and no_new_privs
    status = proc_status(proc.pid)
    assert status["Uid"].split() == ["60001"] * 4
    assert status["Gid"].split() == ["60001"] * 4
    assert status["Groups"].split() == ["60001"]
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert status["NoNewPrivs"] == "1"
    message = b"Subject: hi\r\n\r\nhello\r\n"
    wire.send(b"b APPEND INBOX {%d}\r\n" % len(message))
    assert wire.line().startswith(b"+")
    wire.send(message + b"\r\n")
    assert wire.until_tagged(b"b")[-1].startswith(b"b OK")
    assert wire.command(b"c", b"SELECT INBOX")[-1].startswith(b"c OK [READ-WRITE]")
    assert wire.command(b"d", b"LOGOUT")[-1].startswith(b"d OK")
    finish(proc, wire)
    made = [os.path.join(d, f) for d, _, fs in os.walk(world.home("bob") / "Maildir") for f in fs]
    assert made and all(os.stat(path).st_uid == 60001 for path in made)
    assert all(os.stat(path).st_gid == 60001 for path in made)
    log = world.log_text()
    assert "login: user=<bob>, method=LOGIN, secured=yes, uid=60001" in log
    assert "<127.0.0.1>" in log  # the remote address, from getpeername on stdin


@pytest.mark.parametrize("user", ["alice", "carol", "dave"])
def test_every_scheme_logs_in_with_authenticate_plain_and_sasl_ir(world, user):
    password = USERS[user][1]
    proc, wire = spawn(world.argv())
    wire.line()
    answer = wire.command(b"a", b"AUTHENTICATE PLAIN " + plain("", user, password))
    assert answer[-1].startswith(b"a OK [CAPABILITY"), answer
    assert wire.command(b"b", b"LOGOUT")[-1].startswith(b"b OK")
    finish(proc, wire)


def test_authenticate_plain_with_a_continuation_and_own_authzid(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.send(b"a AUTHENTICATE PLAIN\r\n")
    assert wire.line() == b"+ \r\n"
    wire.send(plain("bob", "bob", "bob-Secret-1") + b"\r\n")
    assert wire.until_tagged(b"a")[-1].startswith(b"a OK")
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)


def test_foreign_authzid_is_refused_even_with_the_right_password(world):
    proc, wire = spawn(world.argv())
    wire.line()
    answer = wire.command(b"a", b"AUTHENTICATE PLAIN " + plain("alice", "bob", "bob-Secret-1"))
    assert answer[-1] == b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)
    assert "reason=authorization identity differs" in world.log_text()


def test_wrong_passwords_grow_the_delay_and_three_strikes_end_the_session(world):
    proc, wire = spawn(world.argv("--auth-delay", "0.3"))
    wire.line()
    delays = []
    for tag in (b"a", b"b"):
        start = time.monotonic()
        answer = wire.command(tag, b"LOGIN bob wrong-password")
        delays.append(time.monotonic() - start)
        assert answer[-1] == tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    start = time.monotonic()
    answer = wire.command(b"c", b"LOGIN nosuchuser wrong-password")
    delays.append(time.monotonic() - start)
    assert answer[-1] == b"c NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    assert wire.line().startswith(b"* BYE ")
    finish(proc, wire)
    # base, 2 x base, 4 x base (the first answer may also wait for the parent's imports)
    assert delays[0] >= 0.3 and delays[1] >= 0.6 and delays[2] >= 1.2
    assert delays[1] < delays[2]
    log = world.log_text()
    for attempt in (1, 2, 3):
        assert f"attempt={attempt}" in log
    assert log.count("login failed:") == 3
    assert "user=<nosuchuser>" in log and "reason=unknown user" in log


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(world):
    answers = []
    for user in (b"bob", b"nosuchuser"):
        proc, wire = spawn(world.argv())
        wire.line()
        answers.append(wire.command(b"a", b"LOGIN " + user + b" not-the-password")[-1])
        wire.command(b"z", b"LOGOUT")
        finish(proc, wire)
    assert answers[0] == answers[1] == b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"


def test_plaintext_is_refused_without_a_secure_transport(world):
    # a remote peer named by the front end (socat's and stunnel's socketpair)
    proc, wire = spawn(world.argv(secure=False), env={"SOCAT_PEERADDR": "192.0.2.7"})
    greeting = wire.line()
    assert b" LOGINDISABLED" in greeting and b"AUTH=PLAIN" not in greeting
    assert wire.command(b"a", b"LOGIN bob bob-Secret-1")[-1] == (
        b"a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
        b"(SSL/TLS) connections.\r\n")
    answer = wire.command(b"b", b"AUTHENTICATE PLAIN " + plain("", "bob", "bob-Secret-1"))
    assert answer[-1].startswith(b"b NO [PRIVACYREQUIRED]")
    assert wire.command(b"c", b"SELECT INBOX")[-1].startswith(b"c BAD")
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)
    assert "login:" not in world.log_text()


@pytest.mark.parametrize("user", ["lowuid", "rootish"])
def test_users_below_first_valid_uid_and_root_are_refused(world, user):
    proc, wire = spawn(world.argv())
    wire.line()
    answer = wire.command(b"a", b"LOGIN " + user.encode() + b" " + USERS[user][1].encode())
    assert answer[-1] == b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)
    assert "first_valid_uid" in world.log_text() or "uid or gid 0" in world.log_text()


def test_pre_login_child_runs_as_the_login_identity(world):
    (world.top / "hook").mkdir(mode=0o777)
    os.chmod(world.top / "hook", 0o777)
    hook = world.top / "hook" / "child-ids"
    proc, wire = spawn(world.argv(), env={"IMAPSESSION_TEST_CHILD_STATUS": str(hook)})
    wire.line()
    wire.command(b"a", b"NOOP")  # the child is past its drop once it answers
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)
    assert hook.read_text() == "(65534, 65534, 65534) (65534, 65534, 65534) [65534]\n"


def test_pre_login_child_has_no_new_privs_and_no_capabilities(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.command(b"a", b"NOOP")
    children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
    assert len(children) == 1
    status = proc_status(int(children[0]))
    assert status["Uid"].split() == ["65534"] * 4
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"] == "1"
    assert proc_status(proc.pid)["Uid"].split()[0] == "0"  # the parent waits as root
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)


def test_pipelined_commands_after_login_are_served_by_the_session(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.send(b"a LOGIN dave dave-Secret-4\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
    lines = wire.until_tagged(b"c")
    tagged = [line.split(b" ", 2)[:2] for line in lines if not line.startswith(b"*")]
    assert tagged == [[b"a", b"OK"], [b"b", b"OK"], [b"c", b"OK"]]
    finish(proc, wire)


def test_pre_login_timeout_says_bye(world):
    proc, wire = spawn(world.argv("--login-timeout", "1"))
    wire.line()
    start = time.monotonic()
    assert wire.line() == b"* BYE Disconnected for inactivity.\r\n"
    assert 0.8 < time.monotonic() - start < 10
    finish(proc, wire)


def test_no_password_reaches_the_log(world):
    for user, (_, password, _) in USERS.items():
        for attempt in (password, password + "x"):
            proc, wire = spawn(world.argv("--auth-delay", "0"), env={"REMOTE_HOST": "192.0.2.9"})
            wire.line()
            wire.command(b"a", f"LOGIN {user} {attempt}".encode())
            wire.send(b"z LOGOUT\r\n")
            finish(proc, wire)
    log = world.log_text()
    assert "login failed:" in log and "login: user=<bob>" in log
    assert "<192.0.2.9>" in log  # the remote address from the environment
    for _, password, _ in USERS.values():
        assert password not in log


def test_network_peer_defaults_to_login_mode(world):
    proc, wire = spawn(world.argv(login_flag=False), tcp=True)
    assert GREETING_OK.match(wire.line())
    assert wire.command(b"a", b"SELECT INBOX")[-1].startswith(b"a BAD")
    assert wire.command(b"b", b"LOGIN bob bob-Secret-1")[-1].startswith(b"b OK")
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)


def test_user_name_cannot_forge_a_log_line(world):
    proc, wire = spawn(world.argv("--auth-delay", "0"), tcp=True)
    wire.line()
    wire.command(b"a", b'LOGIN "x\\"> rip=192.0.2.1" pw')
    wire.command(b"z", b"LOGOUT")
    finish(proc, wire)
    failed = [line for line in world.log_text().splitlines() if "login failed" in line]
    assert len(failed) == 1 and "rip=192" not in failed[0] and "\\x3d" in failed[0]
    # inetd/README.md's fail2ban failregex finds the real address, not the forged one
    readme = (Path(__file__).resolve().parent.parent / "inetd" / "README.md").read_text()
    failregex = re.search(r"failregex = (.*)", readme).group(1).rstrip()
    pattern = re.compile(failregex.replace("<HOST>", r"(?P<host>[^>\s]+)"))
    assert pattern.match(failed[0]).group("host") == "127.0.0.1"


# --- hostile input before login: imap-login's small limits (protocol/limits.pre_login) ---

def test_pre_login_literal_over_its_limit_is_discarded_and_answered(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.send(b"a LOGIN {9000+}\r\n" + b"b LOGOUT\r\n" * 900 + b" pw\r\n")
    assert wire.until_tagged(b"a") == [b"a BAD [TOOBIG] Literal too large\r\n"]
    wire.send(b"c LOGIN {9000}\r\n")  # synchronising: refused before the continuation
    assert wire.until_tagged(b"c") == [b"c BAD [TOOBIG] Literal too large\r\n"]
    assert wire.command(b"d", b"NOOP") == [b"d OK NOOP completed.\r\n"]
    wire.send(b"e LOGOUT\r\n")
    finish(proc, wire)


def test_pre_login_literal_past_its_discard_cap_ends_the_session_at_once(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.send(b"a LOGIN {70000+}\r\n")
    assert wire.line() == b"* BYE [TOOBIG] Literal too large\r\n"
    finish(proc, wire)


def test_pre_login_too_many_literals_are_answered_bad_limit(world):
    proc, wire = spawn(world.argv())
    wire.line()
    wire.send(b"a ID (" + b"{1+}\r\nx " * 40 + b")\r\n")
    assert wire.until_tagged(b"a") == [b"a BAD [LIMIT] Too many literals in one command\r\n"]
    assert wire.command(b"d", b"NOOP") == [b"d OK NOOP completed.\r\n"]
    wire.send(b"e LOGOUT\r\n")
    finish(proc, wire)
