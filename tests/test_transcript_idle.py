"""IDLE (RFC 2177): the continuation, DONE, and updates from a second session."""

from __future__ import annotations

import pytest

from imapsession.commands import idle
from transcript import Client, message, run


@pytest.fixture
def pair(tmp_path):
    a = Client(tmp_path / "Maildir")
    b = Client(tmp_path / "Maildir")
    a.append(message("first"))
    a.ok("s SELECT INBOX")
    b.ok("s SELECT INBOX")
    return a, b


def test_idle_and_done(pair):
    a, _ = pair
    run(a, """
        C: i IDLE
        S: + idling
        C: DONE
        S: i OK Idle completed.
        C: j idle
        S: + idling
        C: done
        S: j OK Idle completed.
        C: n NOOP
        S: n OK NOOP completed.
    """)


def test_done_split_across_receives(pair):
    a, _ = pair
    assert a.lines(b"i IDLE\r\n") == ["+ idling"]
    assert a.lines(b"DO") == []
    assert a.lines(b"NE\r\nn NOOP\r\n") == ["i OK Idle completed.", "n OK NOOP completed."]


def test_idle_ended_by_anything_but_done(pair):
    a, _ = pair
    assert a.lines(b"i IDLE\r\n") == ["+ idling"]
    assert a.lines(b"n NOOP\r\n") == ["i BAD Expected DONE."]
    assert a.cmd("m NOOP") == ["m OK NOOP completed."]


def test_idle_with_an_over_long_line(pair):
    a, _ = pair
    assert a.lines(b"i IDLE\r\n") == ["+ idling"]
    assert a.lines(b"x" * 5000) == ["i BAD Expected DONE."]


def test_idle_reports_another_sessions_changes(pair):
    a, b = pair
    assert a.lines(b"i IDLE\r\n") == ["+ idling"]
    assert idle.tick(a.session) == b""
    b.append(message("second"))
    b.ok("t STORE 1 +FLAGS (\\Flagged)")
    assert idle.tick(a.session).decode().split("\r\n")[:-1] == [
        "* 2 EXISTS", "* 1 RECENT", "* 1 FETCH (FLAGS (\\Flagged \\Recent))"]
    assert idle.tick(a.session) == b""  # reported once
    b.ok("u STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("v EXPUNGE")
    # IDLE may announce expunges (RFC 3501 7.4.1 allows them outside FETCH/STORE/SEARCH)
    assert idle.tick(a.session) == b"* 1 EXPUNGE\r\n"
    assert a.lines(b"DONE\r\n") == ["i OK Idle completed."]
    assert a.cmd("f FETCH 1:* UID") == ["* 1 FETCH (UID 2)", "f OK Fetch completed."]


def test_idle_in_authenticated_state(tmp_path):
    a = Client(tmp_path / "Maildir")
    assert a.lines(b"i IDLE\r\n") == ["+ idling"]
    assert idle.tick(a.session) == b""
    assert a.lines(b"DONE\r\n") == ["i OK Idle completed."]


def test_idle_syntax(pair):
    a, _ = pair
    assert a.tagged("i IDLE now") == (
        'i BAD Error in IMAP command IDLE: Expected no arguments, found "now"')
