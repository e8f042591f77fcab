"""SELECT, EXAMINE, STATUS, CHECK, CLOSE, UNSELECT (RFC 3501 6.3.1, 6.3.2, 6.3.10, 6.4.1,
6.4.2; RFC 3691)."""

from __future__ import annotations

import re

import pytest

from transcript import Client, message, run

FLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


@pytest.fixture
def c(tmp_path):
    return Client(tmp_path / "Maildir")


def test_select_empty_inbox(c):
    run(c, f"""
        C: a SELECT INBOX
        S: * FLAGS ({FLAGS})
        S: * OK [PERMANENTFLAGS ({FLAGS} \\*)] Flags permitted.
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 1] Predicted next UID
        S: a OK [READ-WRITE] Select completed.
    """)
    assert c.session.state.value == "selected"


def test_select_with_messages_recent_unseen_keywords(c):
    c.append(message("one"), flags="\\Seen")
    c.append(message("two"), flags="$Important")
    c.append(message("three"), flags="\\Seen")
    run(c, f"""
        C: a SELECT inbox
        S: * FLAGS ({FLAGS} $Important)
        S: * OK [PERMANENTFLAGS ({FLAGS} $Important \\*)] Flags permitted.
        S: * 3 EXISTS
        S: * 3 RECENT
        S: * OK [UNSEEN 2] First unseen.
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 4] Predicted next UID
        S: a OK [READ-WRITE] Select completed.
        C: b FETCH 1:* FLAGS
        S: * 1 FETCH (FLAGS (\\Seen \\Recent))
        S: * 2 FETCH (FLAGS (\\Recent $Important))
        S: * 3 FETCH (FLAGS (\\Seen \\Recent))
        S: b OK Fetch completed.
    """)


def test_recent_is_claimed_once(c):
    c.append(message())
    c.ok("a SELECT INBOX")
    # a second SELECT in the same session: the message is no longer recent
    assert "* 0 RECENT" in c.ok("b SELECT INBOX")


def test_examine_does_not_claim_recent_and_is_read_only(c):
    c.append(message())
    run(c, f"""
        C: a EXAMINE INBOX
        S: * FLAGS ({FLAGS})
        S: * OK [PERMANENTFLAGS ()] Read-only mailbox.
        S: * 1 EXISTS
        S: * <n> RECENT
        S: * OK [UNSEEN 1] First unseen.
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 2] Predicted next UID
        S: a OK [READ-ONLY] Examine completed.
        C: b STORE 1 +FLAGS (\\Seen)
        S: b NO Mailbox is read-only.
        C: c EXPUNGE
        S: c NO Mailbox is read-only.
        C: d FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS (<*>))
        S: d OK Fetch completed.
        C: e SELECT INBOX
        S: * FLAGS ({FLAGS})
        S: * OK [PERMANENTFLAGS ({FLAGS} \\*)] Flags permitted.
        S: * 1 EXISTS
        S: * 1 RECENT
        S: * OK [UNSEEN 1] First unseen.
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 2] Predicted next UID
        S: e OK [READ-WRITE] Select completed.
    """)


def test_uidvalidity_is_stable_and_the_same_in_status(c):
    first = c.ok("a SELECT INBOX")
    second = c.ok("b SELECT INBOX")
    value = re.search(r"UIDVALIDITY (\d+)", "\n".join(first)).group(1)
    assert f"* OK [UIDVALIDITY {value}] UIDs valid" in second
    assert c.cmd("c STATUS INBOX (UIDVALIDITY)")[0] == f"* STATUS INBOX (UIDVALIDITY {value})"


def test_select_missing_mailbox_leaves_selected_state(c):
    c.ok("a SELECT INBOX")
    run(c, """
        C: b SELECT nothere
        S: b NO [NONEXISTENT] Mailbox doesn't exist: nothere
        C: c FETCH 1 FLAGS
        S: c BAD Error in IMAP command: FETCH needs a selected mailbox
    """)


def test_select_noselect_parent(c):
    c.ok("a CREATE p/child")
    answer = c.tagged("b SELECT p")
    assert answer.startswith("b NO "), answer
    assert c.session.state.value == "authenticated"


def test_select_syntax(c):
    assert c.tagged("a SELECT").startswith("a BAD ")
    assert c.tagged("a SELECT INBOX extra").startswith("a BAD ")
    assert c.tagged("a SELECT (INBOX)").startswith("a BAD ")


def test_status_items(c):
    c.append(message("one"), flags="\\Seen")
    c.append(message("two"))
    c.ok("a CREATE Other")
    run(c, """
        C: b STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)
        S: * STATUS INBOX (MESSAGES 2 RECENT 2 UIDNEXT 3 UIDVALIDITY <n> UNSEEN 1)
        S: b OK Status completed.
        C: c STATUS inbox (unseen messages)
        S: * STATUS INBOX (UNSEEN 1 MESSAGES 2)
        S: c OK Status completed.
        C: d STATUS Other (MESSAGES UIDNEXT)
        S: * STATUS Other (MESSAGES 0 UIDNEXT 1)
        S: d OK Status completed.
        C: e STATUS nothere (MESSAGES)
        S: e NO [NONEXISTENT] Mailbox doesn't exist: nothere
        C: f STATUS INBOX ()
        S: f BAD Error in IMAP command STATUS: Empty status item list
        C: g STATUS INBOX (SIZE)
        S: g BAD Error in IMAP command STATUS: Invalid status item "SIZE" (expected MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN)
        C: h STATUS INBOX MESSAGES
        S: h BAD Error in IMAP command STATUS: Expected status item list '(', found "MESSAGES"
    """)


def test_status_does_not_claim_recent(c):
    c.append(message())
    c.ok("a STATUS INBOX (RECENT)")
    assert "* 1 RECENT" in c.ok("b SELECT INBOX")


def test_status_of_the_selected_mailbox(c):
    c.append(message())
    c.ok("a SELECT INBOX")
    c.ok("b STORE 1 +FLAGS (\\Seen)")
    assert c.cmd("c STATUS INBOX (MESSAGES UNSEEN)") == [
        "* STATUS INBOX (MESSAGES 1 UNSEEN 0)", "c OK Status completed."]


def test_status_non_ascii_name(c):
    c.ok("a CREATE Entw&APw-rfe")
    assert c.cmd("b STATUS Entw&APw-rfe (MESSAGES)") == [
        "* STATUS Entw&APw-rfe (MESSAGES 0)", "b OK Status completed."]


def test_check(c):
    c.ok("a SELECT INBOX")
    assert c.cmd("b CHECK") == ["b OK Check completed."]
    assert c.tagged("c CHECK now").startswith("c BAD ")


def test_close_expunges_silently(c):
    for subject in ("one", "two", "three"):
        c.append(message(subject))
    run(c, """
        C: a SELECT INBOX
        S: <*>
        S: <*>
        S: * 3 EXISTS
        S: * 3 RECENT
        S: <*>
        S: <*>
        S: <*>
        S: a OK [READ-WRITE] Select completed.
        C: b STORE 1:2 +FLAGS.SILENT (\\Deleted)
        S: b OK Store completed.
        C: c CLOSE
        S: c OK Close completed.
        C: d STATUS INBOX (MESSAGES)
        S: * STATUS INBOX (MESSAGES 1)
        S: d OK Status completed.
        C: e CLOSE
        S: e BAD Error in IMAP command: CLOSE needs a selected mailbox
    """)


def test_close_after_examine_expunges_nothing(c):
    c.append(message(), flags="\\Deleted")
    c.ok("a EXAMINE INBOX")
    assert c.cmd("b CLOSE") == ["b OK Close completed."]
    assert c.cmd("c STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 1)"


def test_unselect_expunges_nothing(c):
    c.append(message(), flags="\\Deleted")
    c.ok("a SELECT INBOX")
    run(c, """
        C: b UNSELECT
        S: b OK Unselect completed.
        C: c STATUS INBOX (MESSAGES)
        S: * STATUS INBOX (MESSAGES 1)
        S: c OK Status completed.
        C: d UNSELECT
        S: d BAD Error in IMAP command: UNSELECT needs a selected mailbox
    """)
    assert c.session.state.value == "authenticated"


def test_select_while_selected_switches_without_expunge(c):
    c.append(message(), flags="\\Deleted")
    c.ok("a CREATE Other")
    c.ok("b SELECT INBOX")
    c.ok("c SELECT Other")
    assert c.cmd("d STATUS INBOX (MESSAGES)")[0] == "* STATUS INBOX (MESSAGES 1)"
