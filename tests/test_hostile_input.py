"""Hostile input through the real binary: each answered, the session goes on, memory stays bounded.

The classes of issue 13: literals far over the limit with and without LITERAL+
(RFC 7888 section 4), APPEND over APPENDLIMIT (RFC 4469 TOOBIG), thousands of
literals in one command (CVE-2024-34055), deep parentheses, NUL in a quoted
string. The memory bound (peak RSS, VmHWM of the server process) is a behaviour:
a smaller APPENDLIMIT keeps the discard cap (4 x APPENDLIMIT) and the runtime small.
"""

from __future__ import annotations

import os
import subprocess

import pytest

import imapproc

APPEND_LIMIT = 16 * 1024 * 1024  # the discard cap is then 64 MiB
PEAK_RSS_LIMIT_KB = 30 * 1024
CHUNK = b"x LOGOUT\r\n" * (1 << 16)  # what a discarded literal holds must never run


@pytest.fixture
def imap(tmp_path):
    proc = imapproc.spawn_ours(None, ["--append-limit", str(APPEND_LIMIT)], timeout=60)
    yield proc
    proc.close()


def send_literal(proc: imapproc.ImapProcess, head: bytes, size: int) -> None:
    """``head`` announces a non-sync literal of ``size`` octets; send them in chunks."""
    proc.send_raw(head)
    left = size
    while left:
        part = CHUNK[:left]
        proc.popen.stdin.write(part)
        left -= len(part)
    proc.popen.stdin.flush()


def answer(proc: imapproc.ImapProcess, rest: bytes, tag: bytes) -> list[bytes]:
    proc.send_raw(rest)
    return proc.read_until_tagged(tag)


def assert_goes_on(proc: imapproc.ImapProcess) -> None:
    assert proc.command("NOOP", tag="n")[-1] == b"n OK NOOP completed.\r\n"


def test_peak_rss_stays_bounded_while_literals_are_discarded_spooled_and_counted(imap):
    send_literal(imap, b'a LIST "" {60000000+}\r\n', 60_000_000)
    assert answer(imap, b"\r\n", b"a") == [b"a BAD [TOOBIG] Literal too large\r\n"]
    assert_goes_on(imap)

    send_literal(imap, b"b APPEND INBOX {%d+}\r\n" % APPEND_LIMIT, APPEND_LIMIT)
    assert answer(imap, b"\r\n", b"b")[-1].startswith(b"b OK [APPENDUID ")

    send_literal(imap, b"c APPEND INBOX {40000000+}\r\n", 40_000_000)
    assert answer(imap, b"\r\n", b"c") == [
        b"c NO [TOOBIG] Message is larger than APPENDLIMIT\r\n"]
    assert_goes_on(imap)

    data = b"d LOGIN " + b"{1+}\r\nx " * 100_000 + b"x\r\n"
    assert answer(imap, data, b"d") == [b"d BAD [LIMIT] Too many literals in one command\r\n"]
    assert_goes_on(imap)

    imap.logout()
    assert imap.peak_rss_kb is not None
    assert imap.peak_rss_kb < PEAK_RSS_LIMIT_KB, f"peak RSS {imap.peak_rss_kb} kB"


def test_declared_literal_past_the_cap_ends_the_session_without_waiting(imap):
    imap.send_raw(b'a LIST "" {4294967295+}\r\n')
    assert imap.read_response() == b"* BYE [TOOBIG] Literal too large\r\n"
    assert imap.wait() == 0


def test_synchronising_literal_too_large_is_refused_before_continuation(imap):
    imap.send_raw(b'a LIST "" {4294967295}\r\n')
    assert imap.read_response() == b"a BAD [TOOBIG] Literal too large\r\n"
    imap.send_raw(b"b APPEND INBOX {%d}\r\n" % (APPEND_LIMIT + 1))
    assert imap.read_response() == b"b NO [TOOBIG] Message is larger than APPENDLIMIT\r\n"
    assert_goes_on(imap)


@pytest.mark.parametrize("line", [
    b"a FETCH 1 " + b"(" * 100_000 + b"FLAGS" + b")" * 100_000,
    b"a FETCH 1 " + b"(" * 30_000 + b"FLAGS" + b")" * 30_000,
    b"a SEARCH " + b"(" * 30_000 + b"ALL" + b")" * 30_000,
    b"a SEARCH " + b"NOT " * 15_000 + b"ALL",
    b"a SEARCH " + b"OR ALL " * 9_000 + b"ALL",
    b'a SELECT "IN\x00BOX"',
    b'a LIST "" "\x00"',
])
def test_hostile_command_gets_a_tagged_bad_and_the_session_goes_on(imap, line):
    imap.command("SELECT INBOX", tag="s")
    assert answer(imap, line + b"\r\n", b"a")[-1].startswith(b"a BAD ")
    assert_goes_on(imap)


@pytest.mark.skipif(not os.access(imapproc.DOVECOT_IMAP, os.X_OK), reason="no Dovecot imap")
@pytest.mark.parametrize("line", [
    b"a FETCH 1 " + b"(" * 100_000 + b"FLAGS" + b")" * 100_000,
    b"a SEARCH " + b"(" * 30_000 + b"ALL" + b")" * 30_000,
    b'a SELECT "IN\x00BOX"',
])
def test_dovecot_also_answers_these_with_a_tagged_response_and_goes_on(line):
    """The reference: Dovecot answers BAD (or, for deep SEARCH, OK) and keeps the session."""
    with imapproc.spawn_dovecot(None, timeout=30) as dovecot:
        dovecot.command("SELECT INBOX", tag="s")
        assert answer(dovecot, line + b"\r\n", b"a")[-1].split(b" ")[1] in (b"BAD", b"OK")
        assert dovecot.command("NOOP", tag="n")[-1].startswith(b"n OK NOOP completed")


def test_append_limit_setting_is_advertised_and_checked(imap):
    assert b"APPENDLIMIT=%d" % APPEND_LIMIT in imap.greeting
    result = subprocess.run([*imapproc.ours_argv(["--append-limit", "-5"])], capture_output=True,
                            env=imapproc.ours_env(imap.home, imap.maildir), timeout=30)
    assert result.returncode == 2
    assert b"--append-limit needs a positive number of octets" in result.stderr
