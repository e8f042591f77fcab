"""The real binary on stdin/stdout: framing, limits, ending, and when it may pre-authenticate.

Expectations come from RFC 3501 (sections 2.2, 5.5, 7.5), RFC 7888 (LITERAL+)
and docs/LIMITS.md (the limits); the server pre-authenticates only where no
network peer can be involved (README, "Modes"). ``IMAPSESSION_EDGE_SERVER=dovecot`` runs the protocol-level tests
(not the start-mode ones) against Dovecot's imap, to check the tests themselves.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

import imapproc

ON_DOVECOT = os.environ.get("IMAPSESSION_EDGE_SERVER") == "dovecot"
PEER_VARIABLES = {"REMOTE_HOST": "192.0.2.7", "SOCAT_PEERADDR": "192.0.2.7",
                  "TCPREMOTEIP": "192.0.2.7", "LISTEN_FDS": "1"}
ONE_MESSAGE = b"From: a@example.com\nSubject: hello\n\nbody\n"


@pytest.fixture
def maildir(tmp_path) -> str:
    path = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    name = f"1700000000.M1P1.test,S={len(ONE_MESSAGE)}:2,S"
    (path / "cur" / name).write_bytes(ONE_MESSAGE)
    return str(path)


@pytest.fixture
def imap(maildir):
    spawn = imapproc.spawn_dovecot if ON_DOVECOT else imapproc.spawn_ours
    proc = spawn(maildir, timeout=10)
    yield proc
    proc.close()


def tags_and_status(responses: list[bytes]) -> list[tuple[bytes, bytes]]:
    return [tuple(r.split(b" ", 2)[:2]) for r in responses if not r.startswith(b"* ")]


# --- framing (RFC 3501 sections 2.2, 5.5, 7.5; RFC 7888) ------------------------------


def test_greeting_is_preauth_with_capabilities(imap):
    greeting = imap.greeting
    assert greeting.startswith(b"* PREAUTH [CAPABILITY IMAP4rev1 ")
    assert greeting.endswith(b"\r\n") and greeting.count(b"\r\n") == 1
    capabilities = greeting.split(b"]")[0].split()
    assert b"LITERAL+" in capabilities
    assert b"STARTTLS" not in capabilities and b"LOGINDISABLED" not in capabilities


def test_pipelined_commands_answered_in_order(imap):
    imap.send_raw(b"p1 NOOP\r\np2 CAPABILITY\r\np3 SELECT INBOX\r\np4 FETCH 1 (FLAGS UID)\r\n"
                  b"p5 SEARCH ALL\r\np6 CHECK\r\n")
    responses = imap.read_until_tagged("p6")
    assert tags_and_status(responses) == [(b"p%d" % i, b"OK") for i in range(1, 7)]
    untagged = [r for r in responses if r.startswith(b"* ")]
    fetch = [r for r in untagged if r.startswith(b"* 1 FETCH (")]
    assert len(fetch) == 1 and b"UID 1" in fetch[0] and b"\\Seen" in fetch[0]
    assert untagged.index(b"* 1 EXISTS\r\n") < untagged.index(fetch[0])
    assert b"* SEARCH 1\r\n" in untagged


def test_synchronising_literal_gets_continuation(imap):
    imap.send_raw(b"s1 SELECT {5}\r\n")
    continuation = imap.read_response()
    assert continuation.startswith(b"+")
    imap.send_raw(b"INBOX\r\n")
    assert imapproc.status_of(imap.read_until_tagged("s1")) == b"OK"


def test_synchronising_literal_waits_for_the_continuation(imap):
    """Nothing but the "+" goes out until the literal's octets arrive."""
    imap.send_raw(b"s2 EXAMINE {5}\r\n")
    assert imap.read_response().startswith(b"+")
    assert imap.pending(0.3) == b""
    imap.send_raw(b"INBOX\r\n")
    assert imapproc.status_of(imap.read_until_tagged("s2")) == b"OK"


def test_non_synchronising_literal_gets_no_continuation(imap):
    imap.send_raw(b"n1 SELECT {5+}\r\nINBOX\r\nn2 NOOP\r\n")
    responses = imap.read_until_tagged("n2")
    assert not any(r.startswith(b"+") for r in responses)
    assert tags_and_status(responses) == [(b"n1", b"OK"), (b"n2", b"OK")]


def test_literal_plus_in_append(imap):
    responses = imap.command("APPEND INBOX (\\Flagged)", [ONE_MESSAGE.replace(b"\n", b"\r\n")],
                             sync=False)
    assert imapproc.status_of(responses) == b"OK"
    status = b"".join(imap.command("STATUS INBOX (MESSAGES)"))
    assert b"(MESSAGES 2)" in status


@pytest.mark.skipif(ON_DOVECOT, reason="Dovecot accepts long NOOP lines; the 64 KiB limit is ours")
def test_over_long_line_gets_bad_and_the_session_continues(imap):
    imap.send_raw(b"L1 SELECT " + b"x" * (70 * 1024) + b"\r\nL2 NOOP\r\n")
    responses = imap.read_until_tagged("L2")
    bad = [r for r in responses[:-1] if r.split(b" ", 2)[1:2] == [b"BAD"]]
    assert len(bad) == 1, responses
    assert bad[0].startswith((b"L1 BAD", b"* BAD"))
    assert len(bad[0]) < 1024  # the line is not echoed back
    assert imapproc.status_of(responses) == b"OK"
    assert b"L2 OK" in responses[-1]


def test_twenty_bad_commands_end_with_bye(imap):
    imap.send_raw(b"".join(b"b%d FROOB\r\n" % i for i in range(1, 21)))
    responses = []
    with pytest.raises(imapproc.ImapEOF):
        while True:
            responses.append(imap.read_response())
    assert [r.split(b" ")[:2] for r in responses[:20]] == [[b"b%d" % i, b"BAD"] for i in range(1, 21)]
    assert responses[20:] and responses[-1].startswith(b"* BYE ")
    assert imap.wait() == 0


def test_nineteen_bad_commands_do_not(imap):
    imap.send_raw(b"".join(b"b%d FROOB\r\n" % i for i in range(1, 20)) + b"ok NOOP\r\n")
    responses = imap.read_until_tagged("ok")
    assert imapproc.status_of(responses) == b"OK"
    assert not any(r.startswith(b"* BYE") for r in responses)


def test_eof_on_stdin_ends_with_exit_zero(imap):
    imap.command("SELECT INBOX")
    imap.popen.stdin.close()
    assert imap.wait() == 0


def test_logout_says_bye_then_ok_and_exits_zero(imap):
    responses = imap.command("LOGOUT")
    assert responses[0].startswith(b"* BYE ")
    assert imapproc.status_of(responses) == b"OK"
    assert imap.wait() == 0


# --- when to pre-authenticate (README "Modes") ---------------------------------------------

pytestmark_start = pytest.mark.skipif(ON_DOVECOT, reason="start modes are our command line")


def run_once(argv, env, data=b"x LOGOUT\r\n"):
    """Run the binary with ``data`` on a pipe as stdin; returns (exit code, stdout bytes)."""
    result = subprocess.run(argv, input=data, capture_output=True, env=env, timeout=15)
    return result.returncode, result.stdout


@pytestmark_start
@pytest.mark.skipif(not imapproc.running_as_root(), reason="needs root: checks the uid-0 refusal")
def test_preauth_as_root_without_allow_root_is_refused(maildir, tmp_path):
    env = imapproc.ours_env(str(tmp_path), maildir)
    code, out = run_once([sys.executable, "-m", "imapsession", "--preauth"], env)
    assert b"PREAUTH" not in out
    assert code != 0


@pytestmark_start
def test_pipe_and_clean_environment_preauthenticates(maildir, tmp_path):
    env = imapproc.ours_env(str(tmp_path), maildir)
    code, out = run_once(imapproc.ours_argv(preauth=False), env)
    assert out.startswith(b"* PREAUTH ")
    assert b"x OK" in out and code == 0


@pytestmark_start
@pytest.mark.parametrize("variable", sorted(PEER_VARIABLES))
def test_peer_in_environment_refuses_preauth(maildir, tmp_path, variable):
    env = imapproc.ours_env(str(tmp_path), maildir, **{variable: PEER_VARIABLES[variable]})
    code, out = run_once(imapproc.ours_argv(preauth=False), env,
                         data=b"x SELECT INBOX\r\ny LOGOUT\r\n")
    assert b"PREAUTH" not in out
    assert not out.startswith(b"x OK") and b"\r\nx OK" not in out  # no mail without a login


@pytestmark_start
@pytest.mark.parametrize("variable", sorted(PEER_VARIABLES))
def test_peer_in_environment_with_preauth_option(maildir, tmp_path, variable):
    env = imapproc.ours_env(str(tmp_path), maildir, **{variable: PEER_VARIABLES[variable]})
    code, out = run_once(imapproc.ours_argv(preauth=True), env)
    assert out.startswith(b"* PREAUTH ") and code == 0


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A real TCP connection on 127.0.0.1: (the server's accepted end, the client's end)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
    return server, client


def greeting_over_tcp(argv, env) -> tuple[bytes, bytes]:
    """Start the binary with an AF_INET socket as stdin and stdout; return the greeting
    and the answer to ``x SELECT INBOX``."""
    server, client = tcp_pair()
    proc = subprocess.Popen(argv, stdin=server, stdout=server, stderr=subprocess.DEVNULL, env=env)
    server.close()
    try:
        data = b""
        deadline = time.monotonic() + 10
        while b"\r\n" not in data and time.monotonic() < deadline:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        greeting, _, rest = data.partition(b"\r\n")
        answer = rest
        if greeting.startswith(b"* OK"):
            client.sendall(b"x SELECT INBOX\r\n")
            while b"x " not in answer and time.monotonic() < deadline:
                chunk = client.recv(65536)
                if not chunk:
                    break
                answer += chunk
        return greeting, answer
    finally:
        client.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytestmark_start
def test_inet_socket_on_stdin_refuses_preauth(maildir, tmp_path):
    env = imapproc.ours_env(str(tmp_path), maildir)
    greeting, answer = greeting_over_tcp(imapproc.ours_argv(preauth=False), env)
    assert greeting.startswith((b"* OK", b"* BYE")), greeting
    assert b"PREAUTH" not in greeting
    if greeting.startswith(b"* OK"):
        assert b"x OK" not in answer  # SELECT needs a login first (RFC 3501 section 6.3)


@pytestmark_start
def test_inet_socket_with_preauth_option_preauthenticates(maildir, tmp_path):
    env = imapproc.ours_env(str(tmp_path), maildir)
    greeting, _ = greeting_over_tcp(imapproc.ours_argv(preauth=True), env)
    assert greeting.startswith(b"* PREAUTH ")
