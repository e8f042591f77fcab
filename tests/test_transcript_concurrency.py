"""Two Sessions on one maildir: each learns of the other's changes only where RFC 3501
7.4.1 allows it, and a message expunged under a session is handled as RFC 2180 says."""

from __future__ import annotations

import pytest

from transcript import Client, message, run


@pytest.fixture
def pair(tmp_path):
    a = Client(tmp_path / "Maildir")
    b = Client(tmp_path / "Maildir")
    for i in range(3):
        a.append(message(str(i)))
    a.ok("s SELECT INBOX")  # a owns \Recent for 1:3
    b.ok("s SELECT INBOX")
    return a, b


def expunge_in(b: Client, seq: int) -> None:
    b.ok(f"x STORE {seq} +FLAGS.SILENT (\\Deleted)")
    b.ok("y EXPUNGE")


def test_recent_belongs_to_the_first_session(pair):
    a, b = pair
    assert b.cmd("f FETCH 1:* FLAGS") == [
        "* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())", "* 3 FETCH (FLAGS ())",
        "f OK Fetch completed."]


def test_append_reaches_the_other_session_at_noop(pair):
    a, b = pair
    b.append(message("new"))  # b is selected: b's APPEND answer announced it, b owns \\Recent
    run(a, """
        C: n NOOP
        S: * 4 EXISTS
        S: * 3 RECENT
        S: n OK NOOP completed.
        C: m NOOP
        S: m OK NOOP completed.
    """)


def test_store_reaches_the_other_session_as_fetch_flags(pair):
    a, b = pair
    b.ok("t STORE 2 +FLAGS ($Label \\Flagged)")
    run(a, """
        C: n NOOP
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label)
        S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label \\*)] Flags permitted.
        S: * 2 FETCH (FLAGS (\\Flagged \\Recent $Label))
        S: n OK NOOP completed.
    """)


def test_uid_store_update_carries_the_uid(pair):
    a, b = pair
    b.ok("t STORE 2 +FLAGS (\\Seen)")
    assert a.cmd("u UID STORE 1 +FLAGS.SILENT (\\Answered)") == [
        "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))", "u OK Store completed."]


def test_expunge_reaches_the_other_session_at_noop(pair):
    a, b = pair
    expunge_in(b, 2)
    run(a, """
        C: n NOOP
        S: * 2 EXPUNGE
        S: n OK NOOP completed.
        C: f FETCH 1:* UID
        S: * 1 FETCH (UID 1)
        S: * 2 FETCH (UID 3)
        S: f OK Fetch completed.
    """)


@pytest.mark.parametrize("command", ["FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL",
                                     "FETCH 1:* UID", "SEARCH UNDELETED"])
def test_no_expunge_during_fetch_store_search(pair, command):
    a, b = pair
    expunge_in(b, 3)
    answer = a.cmd(f"c {command}")
    assert not any(line.endswith("EXPUNGE") for line in answer), answer
    assert "* 3 EXISTS" not in answer
    # the next command that may announce it does
    assert a.cmd("n NOOP") == ["* 3 EXPUNGE", "n OK NOOP completed."]


@pytest.mark.parametrize("command", ["UID FETCH 1 FLAGS", "UID STORE 1 +FLAGS (\\Seen)",
                                     "UID SEARCH ALL", "CHECK", "NOOP", "COPY 1 INBOX"])
def test_expunge_allowed_during_uid_commands_and_others(pair, command):
    a, b = pair
    expunge_in(b, 3)
    answer = a.cmd(f"c {command}")
    assert "* 3 EXPUNGE" in answer, answer
    assert answer[-1].startswith("c OK"), answer


def test_sequence_numbers_stay_stable_until_the_expunge_is_announced(pair):
    a, b = pair
    expunge_in(b, 1)
    # message 1 is gone, but the client still numbers 1:3; 2 and 3 keep their numbers
    run(a, """
        C: f FETCH 2:3 UID
        S: * 2 FETCH (UID 2)
        S: * 3 FETCH (UID 3)
        S: f OK Fetch completed.
        C: g SEARCH ALL
        S: * SEARCH 2 3
        S: g OK [EXPUNGEISSUED] Search completed (some messages were expunged).
        C: h FETCH 4 UID
        S: h BAD Invalid messageset
    """)


def test_fetch_of_a_message_the_other_session_expunged(pair):
    a, b = pair
    expunge_in(b, 2)
    run(a, """
        C: f FETCH 2 BODY.PEEK[]
        S: f NO [EXPUNGEISSUED] Some of the requested messages no longer exist.
        C: g FETCH 1:3 UID
        S: * 1 FETCH (UID 1)
        S: * 3 FETCH (UID 3)
        S: g NO [EXPUNGEISSUED] Some of the requested messages no longer exist.
        C: h STORE 2 +FLAGS (\\Seen)
        S: h NO [EXPUNGEISSUED] Some of the requested messages no longer exist.
        C: n NOOP
        S: * 2 EXPUNGE
        S: n OK NOOP completed.
    """)


def test_fetch_body_racing_with_the_file_removal(pair):
    # the other session removes the file while this one still lists the message
    a, b = pair
    a.ok("p FETCH 1:3 RFC822.SIZE")
    b.ok("x STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    b.ok("y EXPUNGE")
    answer = a.cmd("f FETCH 1:3 (FLAGS BODY.PEEK[TEXT])")
    assert answer[-1] == "f NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
    assert a.cmd("n NOOP") == ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE",
                               "n OK NOOP completed."]
    assert a.cmd("e FETCH 1 FLAGS") == ["e BAD Invalid messageset"]


def test_move_of_a_message_expunged_meanwhile(pair):
    a, b = pair
    a.ok("c CREATE Dest")
    expunge_in(b, 1)
    # a does not know yet that 1 is gone: nothing moves (RFC 2180 4.4, as Dovecot)
    assert a.cmd("m MOVE 1:2 Dest") == [
        "* 1 EXPUNGE", "m NO [EXPUNGEISSUED] Some of the requested messages no longer exist."]
    assert a.cmd("s STATUS Dest (MESSAGES)")[0] == "* STATUS Dest (MESSAGES 0)"
    assert a.cmd("f FETCH 1:* UID") == [
        "* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "f OK Fetch completed."]


def test_copy_of_a_message_known_to_be_gone(pair):
    a, b = pair
    a.ok("c CREATE Dest")
    expunge_in(b, 1)
    a.ok("t SEARCH ALL")  # a now knows 1 is gone, but may not announce it yet
    answer = a.cmd("m COPY 1:2 Dest")
    assert answer[-1] == "m NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
    # and copies nothing: a failed COPY leaves the target as it was (RFC 3501 6.4.7)
    assert a.cmd("s STATUS Dest (MESSAGES)")[0] == "* STATUS Dest (MESSAGES 0)"


def test_both_sessions_store_the_same_message(pair):
    a, b = pair
    a.ok("t STORE 1 +FLAGS.SILENT (\\Seen)")
    b.ok("t STORE 1 +FLAGS.SILENT (\\Flagged)")
    # each session ends up with both flags, at the latest in the update after its FETCH
    answer = a.cmd("f FETCH 1 FLAGS")
    assert answer[-2:] == ["* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))", "f OK Fetch completed."]
    answer = b.cmd("f FETCH 1 FLAGS")
    assert answer[-2:] == ["* 1 FETCH (FLAGS (\\Flagged \\Seen))", "f OK Fetch completed."]


def test_both_sessions_expunge(pair):
    a, b = pair
    a.ok("t STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert b.cmd("x EXPUNGE") == ["* 1 EXPUNGE", "x OK Expunge completed."]
    assert a.cmd("y EXPUNGE") == ["* 1 EXPUNGE", "y OK Expunge completed."]
    assert a.cmd("s STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 2)"


def test_outside_delivery_into_new_is_seen(pair):
    a, _ = pair
    (a.root / "new" / "1900000000.M1P1.mda").write_bytes(b"Subject: mda\n\nhi\n")
    assert a.cmd("n NOOP") == ["* 4 EXISTS", "* 4 RECENT", "n OK NOOP completed."]
    assert a.cmd("f FETCH 4 (UID RFC822.SIZE)") == [
        "* 4 FETCH (UID 4 RFC822.SIZE 20)", "f OK Fetch completed."]
