"""STORE and UID STORE (RFC 3501 6.4.6): FLAGS, +FLAGS, -FLAGS, .SILENT, keywords."""

from __future__ import annotations

import pytest

from transcript import Client, message, run

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    c.append(message("one"))
    c.append(message("two"))
    c.ok("s SELECT INBOX")
    return c


def test_store_modes(c):
    run(c, f"""
        C: a STORE 1 FLAGS (\\Seen $Foo)
        S: * FLAGS ({SYSTEM} $Foo)
        S: * OK [PERMANENTFLAGS ({SYSTEM} $Foo \\*)] Flags permitted.
        S: * 1 FETCH (FLAGS (\\Seen \\Recent $Foo))
        S: a OK Store completed.
        C: b STORE 1 +FLAGS \\Flagged
        S: * 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent $Foo))
        S: b OK Store completed.
        C: c STORE 1 -FLAGS ($Foo)
        S: * 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))
        S: c OK Store completed.
        C: d STORE 1 FLAGS ()
        S: * 1 FETCH (FLAGS (\\Recent))
        S: d OK Store completed.
        C: e store 1:2 +flags (\\answered \\DRAFT)
        S: * 1 FETCH (FLAGS (\\Answered \\Draft \\Recent))
        S: * 2 FETCH (FLAGS (\\Answered \\Draft \\Recent))
        S: e OK Store completed.
        C: f STORE 1 +FLAGS \\Seen \\Deleted
        S: * 1 FETCH (FLAGS (\\Answered \\Deleted \\Seen \\Draft \\Recent))
        S: f OK Store completed.
    """)


def test_store_silent(c):
    run(c, """
        C: a STORE 1:2 +FLAGS.SILENT (\\Deleted)
        S: a OK Store completed.
        C: b STORE 1 -FLAGS.SILENT (\\Deleted)
        S: b OK Store completed.
        C: c STORE 2 FLAGS.SILENT (\\Seen)
        S: c OK Store completed.
        C: d FETCH 1:2 FLAGS
        S: * 1 FETCH (FLAGS (\\Recent))
        S: * 2 FETCH (FLAGS (\\Seen \\Recent))
        S: d OK Fetch completed.
    """)


def test_store_no_change_still_reports_flags(c):
    run(c, """
        C: a STORE 1 -FLAGS (\\Seen)
        S: * 1 FETCH (FLAGS (\\Recent))
        S: a OK Store completed.
    """)


def test_uid_store(c):
    run(c, """
        C: a UID STORE 2 FLAGS (\\Answered)
        S: * 2 FETCH (UID 2 FLAGS (\\Answered \\Recent))
        S: a OK Store completed.
        C: b UID STORE 9 +FLAGS (\\Seen)
        S: b OK Store completed.
        C: c UID STORE 1:* +FLAGS.SILENT (\\Flagged)
        S: c OK Store completed.
        C: d UID FETCH 1:* FLAGS
        S: * 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))
        S: * 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged \\Recent))
        S: d OK Fetch completed.
    """)


def test_keywords_are_case_insensitive(c):
    run(c, f"""
        C: a STORE 1 +FLAGS ($Bar)
        S: * FLAGS ({SYSTEM} $Bar)
        S: * OK [PERMANENTFLAGS ({SYSTEM} $Bar \\*)] Flags permitted.
        S: * 1 FETCH (FLAGS (\\Recent $Bar))
        S: a OK Store completed.
        C: b STORE 2 +FLAGS ($bar)
        S: * 2 FETCH (FLAGS (\\Recent $Bar))
        S: b OK Store completed.
        C: c SEARCH KEYWORD $BAR
        S: * SEARCH 1 2
        S: c OK Search completed.
        C: d STORE 1 -FLAGS ($BAR)
        S: * 1 FETCH (FLAGS (\\Recent))
        S: d OK Store completed.
        C: e SEARCH UNKEYWORD $bar
        S: * SEARCH 1
        S: e OK Search completed.
    """)


def test_new_keywords_are_announced_before_the_fetch(c):
    answer = c.cmd("a STORE 1 +FLAGS (k1 k2 k3)")
    assert answer[0].startswith(f"* FLAGS ({SYSTEM} ")
    assert set(answer[0][len(f"* FLAGS ({SYSTEM} "):-1].split()) == {"k1", "k2", "k3"}
    assert answer[1].startswith("* OK [PERMANENTFLAGS (")
    assert answer[2].startswith("* 1 FETCH (FLAGS (\\Recent ")
    assert answer[3] == "a OK Store completed."
    # the keywords persist in the file names: a new session sees them
    other = Client(c.root)
    assert any(line.startswith("* 1 FETCH (FLAGS (") and "k2" in line
               for line in (other.ok("s EXAMINE INBOX") and other.cmd("f FETCH 1 FLAGS")))


def test_store_in_read_only_mailbox_refused(c):
    c.ok("x EXAMINE INBOX")
    run(c, """
        C: a STORE 1 +FLAGS (\\Seen)
        S: a NO Mailbox is read-only.
        C: b UID STORE 1 FLAGS ()
        S: b NO Mailbox is read-only.
        C: c FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: c OK Fetch completed.
    """)


@pytest.mark.parametrize("args, error", [
    ("1 +FLAGS (\\Recent)", 'Invalid system flag "\\Recent"'),
    ("1 +FLAGS (\\Bogus)", 'Invalid system flag "\\Bogus"'),
    ("1 XFLAGS (\\Seen)",
     'Expected +FLAGS, -FLAGS or FLAGS (each may end in .SILENT), found "XFLAGS"'),
    ("1 +FLAGS.LOUD (\\Seen)",
     'Expected +FLAGS, -FLAGS or FLAGS (each may end in .SILENT), found "+FLAGS.LOUD"'),
    ("1 +FLAGS", "Missing flags"),
    ("1 +FLAGS (\\Seen", "Missing ')'"),
    ("1 +FLAGS (a) b", 'Unexpected "b" after the arguments'),
    ("1", "Missing +FLAGS, -FLAGS or FLAGS (each may end in .SILENT)"),
    ("+FLAGS (\\Seen)", "Invalid messageset \"+FLAGS\" (sequence set): expected a number or '*'"),
    ("1 +FLAGS ((a))", 'Expected flag, found "(a"'),
])
def test_store_syntax_errors(c, args, error):
    assert c.tagged(f"a STORE {args}") == f"a BAD Error in IMAP command STORE: {error}"


def test_store_sequence_past_exists_is_bad(c):
    assert c.tagged("a STORE 3 +FLAGS (\\Seen)") == "a BAD Invalid messageset"
    assert c.tagged("b STORE 1:3 +FLAGS (\\Seen)") == "b BAD Invalid messageset"
    # nothing was changed by the refused command
    assert c.cmd("c FETCH 1 FLAGS")[0] == "* 1 FETCH (FLAGS (\\Recent))"
