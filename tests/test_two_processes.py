"""Two real server processes on one mailbox, through the interleavings that RFC 3501
and RFC 2180 make hard (issue "The core", item 8). Each test is one named interleaving.
"""

from __future__ import annotations

import re
import shutil

import pytest

from imapproc import make_home, spawn_ours, status_of

MESSAGE = b"From: a@example.org\r\nSubject: %d\r\n\r\nbody %d\r\n"
EXPUNGE = re.compile(rb"^\* \d+ EXPUNGE\r\n", re.M)


@pytest.fixture
def pair():
    top, home, maildir = make_home(None)
    a = spawn_ours(maildir, copy=False)
    b = spawn_ours(maildir, copy=False)
    for n in range(1, 6):
        assert status_of(a.command("APPEND INBOX", [MESSAGE % (n, n)])) == b"OK"
    for proc in (a, b):
        assert b"* 5 EXISTS\r\n" in proc.command("SELECT INBOX")
    yield a, b
    a.close()
    b.close()
    shutil.rmtree(top, ignore_errors=True)


def _text(responses: list[bytes]) -> bytes:
    return b"".join(responses)


def test_append_in_a_reaches_b_as_exists_at_noop(pair):
    a, b = pair
    a.command("APPEND INBOX", [MESSAGE % (6, 6)])
    assert b"* 6 EXISTS\r\n" in _text(b.command("NOOP"))


def test_flag_change_in_a_reaches_b_as_fetch_flags(pair):
    a, b = pair
    a.command("STORE 2 +FLAGS (\\Flagged)")
    assert re.search(rb"\* 2 FETCH \(FLAGS \([^)]*\\Flagged", _text(b.command("NOOP")))


def test_expunge_in_a_waits_during_fetch_store_search_in_b(pair):
    a, b = pair
    a.command("STORE 3 +FLAGS.SILENT (\\Deleted)")
    assert b"* 3 EXPUNGE" in _text(a.command("EXPUNGE"))
    for command in ("FETCH 1:5 (FLAGS)", "STORE 1 +FLAGS (x)", "SEARCH ALL"):
        answer = _text(b.command(command))
        assert not EXPUNGE.search(answer), command
    # sequence numbers in b still mean what b was told: 5 messages, 3 among them,
    # though it no longer matches a search (RFC 2180 4.3)
    assert b"* 5 FETCH (UID 5)\r\n" in _text(b.command("FETCH 5 (UID)"))
    assert b"* SEARCH 1 2 4 5\r\n" in _text(b.command("SEARCH ALL"))
    assert b"* 3 EXPUNGE\r\n" in _text(b.command("NOOP"))
    assert b"* SEARCH 1 2 3 4\r\n" in _text(b.command("SEARCH ALL"))


def test_expunge_in_a_may_reach_b_during_uid_fetch(pair):
    a, b = pair
    a.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.command("EXPUNGE")
    assert b"* 1 EXPUNGE\r\n" in _text(b.command("UID FETCH 1:* (FLAGS)"))


def test_b_fetches_a_message_a_expunged(pair):
    a, b = pair
    a.command("STORE 4 +FLAGS.SILENT (\\Deleted)")
    a.command("EXPUNGE")
    answer = b.command("FETCH 4 (BODY.PEEK[])")
    assert status_of(answer) in (b"NO", b"OK")
    assert b"[SERVERBUG]" not in answer[-1]
    if status_of(answer) == b"NO":
        assert b"[EXPUNGEISSUED]" in answer[-1]
    # the other messages are still served in the same command (RFC 2180 4.1.1)
    answer = b.command("FETCH 3:5 (UID)")
    assert b"* 3 FETCH (UID 3)\r\n" in answer and b"* 5 FETCH (UID 5)\r\n" in answer


def test_pipelined_commands_in_b_while_a_expunges(pair):
    a, b = pair
    a.command("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    a.command("EXPUNGE")
    b.send_raw(b"p1 FETCH 5 (UID)\r\np2 STORE 5 +FLAGS (seen-by-b)\r\np3 SEARCH UID 5\r\np4 NOOP\r\n")
    answers = {tag: _text(b.read_until_tagged(tag)) for tag in ("p1", "p2", "p3", "p4")}
    assert b"* 5 FETCH (UID 5)\r\n" in answers["p1"]
    assert b"* 5 FETCH (FLAGS (" in answers["p2"]
    assert b"* SEARCH 5\r\n" in answers["p3"]
    for tag in ("p1", "p2", "p3"):
        assert not EXPUNGE.search(answers[tag])
    assert len(EXPUNGE.findall(answers["p4"])) == 2
    # after the expunges b's message 5 is message 3
    assert b"* 3 FETCH (UID 5)\r\n" in _text(b.command("FETCH 3 (UID)"))


def test_store_by_b_on_a_message_a_expunged(pair):
    a, b = pair
    a.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.command("EXPUNGE")
    answer = b.command("STORE 2 +FLAGS (\\Seen)")
    assert b"[SERVERBUG]" not in answer[-1]
    assert status_of(answer) in (b"NO", b"OK")
    assert not EXPUNGE.search(_text(answer))
