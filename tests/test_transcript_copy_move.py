"""COPY, MOVE, their UID forms with COPYUID (RFC 3501 6.4.7, RFC 6851, RFC 4315),
EXPUNGE and UID EXPUNGE (RFC 3501 6.4.3, RFC 4315 2.1)."""

from __future__ import annotations

import re

import pytest

from transcript import Client, run


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    for i in range(4):
        (c.root / "new" / f"100000000{i}.M{i}.host").write_bytes(b"Subject: %d\n\nhi\n" % i)
    c.ok("a CREATE Dest")
    c.ok("s SELECT INBOX")
    return c


def uidvalidity(c: Client, mailbox: str) -> str:
    return re.search(r"UIDVALIDITY (\d+)", c.cmd(f"v STATUS {mailbox} (UIDVALIDITY)")[0]).group(1)


def test_copy_and_uid_copy_answer_copyuid(c):
    v = uidvalidity(c, "Dest")
    run(c, f"""
        C: a COPY 1:2 Dest
        S: a OK [COPYUID {v} 1:2 1:2] Copy completed.
        C: b UID COPY 2:3 Dest
        S: b OK [COPYUID {v} 2:3 3:4] Copy completed.
        C: c UID COPY 9 Dest
        S: c OK No messages found.
        C: d COPY 4,1 Dest
        S: d OK [COPYUID {v} 1,4 5:6] Copy completed.
        C: e STATUS Dest (MESSAGES UIDNEXT)
        S: * STATUS Dest (MESSAGES 6 UIDNEXT 7)
        S: e OK Status completed.
    """)


def test_copy_keeps_flags_keywords_and_internal_date(c):
    c.ok('x STORE 2 FLAGS (\\Answered $Label)')
    date = c.cmd("y FETCH 2 INTERNALDATE")[0].split("INTERNALDATE ")[1]
    c.ok("a COPY 2 Dest")
    c.ok("b SELECT Dest")
    assert c.cmd("c FETCH 1 (FLAGS INTERNALDATE)") == [
        f"* 1 FETCH (FLAGS (\\Answered \\Recent $Label) INTERNALDATE {date}",
        "c OK Fetch completed."]


def test_copy_to_missing_mailbox_is_trycreate(c):
    run(c, """
        C: a COPY 1 nothere
        S: a NO [TRYCREATE] Mailbox doesn't exist: nothere
        C: b MOVE 1 nothere
        S: b NO [TRYCREATE] Mailbox doesn't exist: nothere
        C: c UID MOVE 1 nothere
        S: c NO [TRYCREATE] Mailbox doesn't exist: nothere
    """)
    assert c.cmd("d FETCH 1 UID") == ["* 1 FETCH (UID 1)", "d OK Fetch completed."]


def test_copy_into_the_selected_mailbox(c):
    v = uidvalidity(c, "INBOX")
    run(c, f"""
        C: a COPY 4 INBOX
        S: * 5 EXISTS
        S: * 5 RECENT
        S: a OK [COPYUID {v} 4 5] Copy completed.
    """)


def test_move_and_uid_move(c):
    v = uidvalidity(c, "Dest")
    run(c, f"""
        C: a MOVE 1 Dest
        S: * OK [COPYUID {v} 1 1] Moved UIDs.
        S: * 1 EXPUNGE
        S: a OK Move completed.
        C: b UID MOVE 3 Dest
        S: * OK [COPYUID {v} 3 2] Moved UIDs.
        S: * 2 EXPUNGE
        S: b OK Move completed.
        C: c FETCH 1:* UID
        S: * 1 FETCH (UID 2)
        S: * 2 FETCH (UID 4)
        S: c OK Fetch completed.
        C: d UID MOVE 1:* Dest
        S: * OK [COPYUID {v} 2,4 3:4] Moved UIDs.
        S: * 2 EXPUNGE
        S: * 1 EXPUNGE
        S: d OK Move completed.
        C: e UID MOVE 1:* Dest
        S: e OK No messages found.
        C: f STATUS Dest (MESSAGES)
        S: * STATUS Dest (MESSAGES 4)
        S: f OK Status completed.
    """)


def test_move_in_read_only_mailbox_refused(c):
    c.ok("x EXAMINE INBOX")
    assert c.cmd("a MOVE 1 Dest") == ["a NO Mailbox is read-only."]
    assert c.cmd("b UID EXPUNGE 1") == ["b NO Mailbox is read-only."]
    # COPY out of a read-only mailbox is fine
    assert c.tagged("c COPY 1 Dest").startswith("c OK [COPYUID ")


@pytest.mark.parametrize("command", ["COPY 5 Dest", "MOVE 5 Dest", "COPY 0 Dest", "MOVE 1:9 Dest"])
def test_copy_move_sequence_past_exists_is_bad(c, command):
    answer = c.tagged(f"a {command}")
    assert answer.startswith("a BAD ") and "messageset" in answer
    assert c.cmd("b STATUS Dest (MESSAGES)")[0] == "* STATUS Dest (MESSAGES 0)"


def test_copy_syntax(c):
    assert c.tagged("a COPY 1").startswith("a BAD ")
    assert c.tagged("a COPY Dest").startswith("a BAD ")
    assert c.tagged("a COPY 1 Dest extra").startswith("a BAD ")
    assert c.tagged('a COPY 1 "../x"') == "a NO [CANNOT] Mailbox name has a '..' hierarchy level"


def test_expunge(c):
    run(c, """
        C: a STORE 1,2,4 +FLAGS.SILENT (\\Deleted)
        S: a OK Store completed.
        C: b EXPUNGE
        S: * 4 EXPUNGE
        S: * 2 EXPUNGE
        S: * 1 EXPUNGE
        S: b OK Expunge completed.
        C: c FETCH 1:* UID
        S: * 1 FETCH (UID 3)
        S: c OK Fetch completed.
        C: d EXPUNGE
        S: d OK Expunge completed.
        C: e EXPUNGE now
        S: e BAD Error in IMAP command EXPUNGE: Expected no arguments, found "now"
    """)


def test_uid_expunge_only_touches_the_given_uids(c):
    run(c, """
        C: a STORE 1:3 +FLAGS.SILENT (\\Deleted)
        S: a OK Store completed.
        C: b UID EXPUNGE 2:3,4
        S: * 3 EXPUNGE
        S: * 2 EXPUNGE
        S: b OK Expunge completed.
        C: c UID EXPUNGE 9
        S: c OK Expunge completed.
        C: d FETCH 1:* (UID FLAGS)
        S: * 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))
        S: * 2 FETCH (UID 4 FLAGS (\\Recent))
        S: d OK Fetch completed.
        C: e UID EXPUNGE
        S: e BAD Error in IMAP command UID EXPUNGE: Missing UID set
    """)


def test_expunge_then_close_then_reselect(c):
    c.ok("a STORE 2 +FLAGS.SILENT (\\Deleted)")
    c.ok("b EXPUNGE")
    c.ok("c STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert c.cmd("d CLOSE") == ["d OK Close completed."]
    assert "* 2 EXISTS" in c.ok("e SELECT INBOX")
    assert c.cmd("f UID SEARCH ALL") == ["* SEARCH 3 4", "f OK Search completed."]


# --- a requested message is gone: NO [EXPUNGEISSUED], nothing copied or moved --------
# (RFC 2180 4.4, RFC 3501 6.4.7; Dovecot 2.3 answers these exact lines, side by side
# in tests/test_two_processes.py)

GONE = "NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
VERBS = ["COPY", "UID COPY", "MOVE", "UID MOVE"]


@pytest.fixture
def gone_pair(c):
    """``c`` selected on INBOX (four messages); another session expunged message 2."""
    other = Client(c.root)
    other.ok("s SELECT INBOX")
    other.ok("x STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok("y EXPUNGE")
    return c, other


def _unchanged(c: Client, other: Client) -> None:
    assert other.cmd("m STATUS Dest (MESSAGES)")[0] == "* STATUS Dest (MESSAGES 0)"
    assert other.cmd("n STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 3)"


@pytest.mark.parametrize("verb", VERBS)
def test_copy_move_naming_a_message_the_session_knows_is_gone(gone_pair, verb):
    c, other = gone_pair
    c.ok("f FETCH 1:4 FLAGS")  # c learns of the expunge; FETCH may not announce it
    run(c, f"""
        C: t {verb} 1:2 Dest
        S: * 2 EXPUNGE
        S: t {GONE}
    """)
    _unchanged(c, other)


@pytest.mark.parametrize("verb", VERBS)
def test_copy_move_naming_a_message_expunged_since_the_last_sync(gone_pair, verb):
    c, other = gone_pair
    run(c, f"""
        C: t {verb} 1:2 Dest
        S: * 2 EXPUNGE
        S: t {GONE}
    """)
    _unchanged(c, other)


@pytest.mark.parametrize("verb", ["COPY", "MOVE"])
def test_copy_move_of_only_a_gone_message(gone_pair, verb):
    c, other = gone_pair
    run(c, f"""
        C: t {verb} 2 Dest
        S: * 2 EXPUNGE
        S: t {GONE}
        C: u UID {verb} 2 Dest
        S: u OK No messages found.
    """)
    _unchanged(c, other)


@pytest.mark.parametrize("verb", ["COPY", "MOVE"])
def test_missing_target_is_reported_before_a_gone_message(gone_pair, verb):
    c, other = gone_pair
    run(c, f"""
        C: t {verb} 1:2 nothere
        S: * 2 EXPUNGE
        S: t NO [TRYCREATE] Mailbox doesn't exist: nothere
    """)


@pytest.mark.parametrize("verb", ["UID COPY", "UID MOVE"])
def test_uid_set_naming_uids_never_there_is_no_error(c, verb):
    v = uidvalidity(c, "Dest")
    run(c, f"""
        C: t {verb} 7:9 Dest
        S: t OK No messages found.
    """)
    answer = c.cmd(f"u {verb} 2,7 Dest")
    assert f"[COPYUID {v} 2 1]" in "".join(answer) and answer[-1].startswith("u OK "), answer
