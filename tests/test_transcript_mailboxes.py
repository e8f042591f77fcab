"""Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 6.3.3-6.3.7),
modified UTF-7 names and hostile names."""

from __future__ import annotations

import os

import pytest

from transcript import Client, message, run


@pytest.fixture
def c(tmp_path):
    return Client(tmp_path / "Maildir")


def names(c: Client) -> list[str]:
    """LIST "" * as (attributes, name) text, without the tagged line."""
    return [line.removeprefix("* LIST ") for line in c.ok('l LIST "" *')[:-1]]


def tree(root) -> set[str]:
    """Every path below ``root``, relative, for checking what the file system holds."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, entry), root))
    return out


# --- CREATE -------------------------------------------------------------------------------


def test_create_and_list(c):
    run(c, """
        C: a CREATE Work
        S: a OK Create completed.
        C: b LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren) "/" Work
        S: b OK List completed.
    """)
    assert os.path.isdir(c.root / ".Work" / "cur")


def test_create_existing(c):
    run(c, """
        C: a CREATE Work
        S: a OK Create completed.
        C: b CREATE Work
        S: b NO [ALREADYEXISTS] Mailbox already exists: Work
        C: c CREATE Work/
        S: c NO [ALREADYEXISTS] Mailbox already exists: Work
    """)


@pytest.mark.parametrize("name", ["INBOX", "inbox", "InBoX", '"INBOX"'])
def test_create_inbox_already_exists(c, name):
    assert c.tagged(f"a CREATE {name}") == "a NO [ALREADYEXISTS] Mailbox already exists"


def test_create_trailing_separator_is_a_hint(c):
    run(c, """
        C: a CREATE Projects/
        S: a OK Create completed.
        C: b LIST "" Projects*
        S: * LIST (\\HasNoChildren) "/" Projects
        S: b OK List completed.
    """)


def test_create_makes_superior_names(c):
    run(c, """
        C: a CREATE a/b/c
        S: a OK Create completed.
        C: b LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\Noselect \\HasChildren) "/" a
        S: * LIST (\\Noselect \\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/b/c
        S: b OK List completed.
        C: c SELECT a/b/c
        S: * FLAGS (<*>)
        S: * OK [PERMANENTFLAGS (<*>)] Flags permitted.
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 1] Predicted next UID
        S: c OK [READ-WRITE] Select completed.
    """)


def test_create_inbox_child(c):
    c.ok("a CREATE INBOX/Sub")
    assert names(c) == ['(\\HasChildren) "/" INBOX', '(\\HasNoChildren) "/" INBOX/Sub']
    c.ok("b CREATE inbox/Other")  # inbox as first level is INBOX
    assert '(\\HasNoChildren) "/" INBOX/Other' in names(c)


def test_create_name_with_dot_and_backslash(c):
    c.ok('a CREATE "a.b"')
    c.ok('b CREATE "back\\\\slash"')
    assert names(c) == ['(\\HasNoChildren) "/" INBOX', '(\\HasNoChildren) "/" a.b',
                        '(\\HasNoChildren) "/" "back\\\\slash"']
    # a dot inside a name is not a Maildir++ level: there is no mailbox "a"
    assert c.tagged("c SELECT a") == "c NO [NONEXISTENT] Mailbox doesn't exist: a"
    c.ok('d SELECT "a.b"')


def test_create_missing_argument_is_bad(c):
    assert c.tagged("a CREATE").startswith("a BAD ")
    assert c.tagged("a CREATE x y").startswith("a BAD ")


# --- DELETE -------------------------------------------------------------------------------


def test_delete(c):
    c.ok("a CREATE Work")
    c.append(message(), mailbox="Work")
    run(c, """
        C: b DELETE Work
        S: b OK Delete completed.
        C: c LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: c OK List completed.
        C: d DELETE Work
        S: d NO [NONEXISTENT] Mailbox doesn't exist: Work
    """)
    assert not (c.root / ".Work").exists()


@pytest.mark.parametrize("name", ["INBOX", "inbox"])
def test_delete_inbox_refused(c, name):
    assert c.tagged(f"a DELETE {name}") == "a NO [CANNOT] INBOX can't be deleted."


def test_delete_selected_mailbox_refused(c):
    c.ok("a CREATE Work")
    c.ok("b SELECT Work")
    assert c.tagged("c DELETE Work") == "c NO [INUSE] Can't delete the selected mailbox."
    c.ok("d NOOP")
    assert c.session.state.value == "selected"


def test_delete_with_children_leaves_a_noselect_parent(c):
    c.ok("a CREATE Work/Old")
    c.ok("b CREATE Work/New")
    c.ok("c CREATE Work")  # the parent becomes a real mailbox
    assert '(\\HasChildren) "/" Work' in names(c)
    c.ok("d DELETE Work")
    assert names(c) == ['(\\HasNoChildren) "/" INBOX', '(\\Noselect \\HasChildren) "/" Work',
                        '(\\HasNoChildren) "/" Work/New', '(\\HasNoChildren) "/" Work/Old']
    # deleting a \Noselect name that still has children is an error (RFC 3501 6.3.4)
    assert c.tagged("e DELETE Work").startswith("e NO [INUSE] ")
    c.ok("f DELETE Work/New")
    c.ok("g DELETE Work/Old")
    assert names(c) == ['(\\HasNoChildren) "/" INBOX']


# --- RENAME -------------------------------------------------------------------------------


def test_rename(c):
    c.ok("a CREATE Old")
    uid = c.append(message("kept"), mailbox="Old")
    run(c, """
        C: b RENAME Old New
        S: b OK Rename completed.
        C: c LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren) "/" New
        S: c OK List completed.
        C: d STATUS New (MESSAGES)
        S: * STATUS New (MESSAGES 1)
        S: d OK Status completed.
        C: e RENAME Old Other
        S: e NO [NONEXISTENT] Mailbox doesn't exist: Old
    """)
    assert uid == 1


def test_rename_onto_existing_or_inbox(c):
    c.ok("a CREATE One")
    c.ok("b CREATE Two")
    assert c.tagged("c RENAME One Two") == "c NO [ALREADYEXISTS] Mailbox already exists: Two"
    assert c.tagged("d RENAME One INBOX") == "d NO [ALREADYEXISTS] Can't rename onto INBOX."
    assert c.tagged("e RENAME One inbox") == "e NO [ALREADYEXISTS] Can't rename onto INBOX."
    assert c.tagged("f RENAME One One").startswith("f NO [ALREADYEXISTS] ")


def test_rename_moves_children(c):
    c.ok("a CREATE x/y/z")
    c.ok("b CREATE x")
    c.ok("c RENAME x w")
    assert names(c) == ['(\\HasNoChildren) "/" INBOX', '(\\HasChildren) "/" w',
                        '(\\Noselect \\HasChildren) "/" w/y', '(\\HasNoChildren) "/" w/y/z']


def test_rename_under_itself_refused(c):
    c.ok("a CREATE x")
    assert c.tagged("b RENAME x x/y") == "b NO [CANNOT] Can't rename a mailbox under itself"


def test_rename_creates_superior_names(c):
    c.ok("a CREATE x")
    c.ok("b RENAME x p/q/x")
    assert names(c) == ['(\\HasNoChildren) "/" INBOX', '(\\Noselect \\HasChildren) "/" p',
                        '(\\Noselect \\HasChildren) "/" p/q', '(\\HasNoChildren) "/" p/q/x']


def test_rename_inbox_moves_its_messages(c):
    c.append(message("one"), flags="\\Flagged")
    c.append(message("two"))
    c.ok("a CREATE INBOX/Child")
    run(c, """
        C: b RENAME INBOX Archive
        S: b OK Rename completed.
        C: c STATUS INBOX (MESSAGES)
        S: * STATUS INBOX (MESSAGES 0)
        S: c OK Status completed.
        C: d STATUS Archive (MESSAGES)
        S: * STATUS Archive (MESSAGES 2)
        S: d OK Status completed.
        C: e EXAMINE Archive
        S: * FLAGS (<*>)
        S: * OK [PERMANENTFLAGS ()] Read-only mailbox.
        S: * 2 EXISTS
        S: * 2 RECENT
        S: * OK [UNSEEN 1] First unseen.
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 3] Predicted next UID
        S: e OK [READ-ONLY] Examine completed.
        C: f FETCH 1:* (FLAGS UID)
        S: * 1 FETCH (FLAGS (\\Flagged \\Recent) UID 1)
        S: * 2 FETCH (FLAGS (\\Recent) UID 2)
        S: f OK Fetch completed.
    """)
    # INBOX's children stay where they are (RFC 3501 6.3.5)
    assert '(\\HasNoChildren) "/" INBOX/Child' in names(c)


def test_rename_missing_argument(c):
    assert c.tagged("a RENAME x").startswith("a BAD ")


# --- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------


def test_subscribe_unsubscribe_lsub(c):
    c.ok("a CREATE Work")
    run(c, """
        C: b SUBSCRIBE Work
        S: b OK Subscribe completed.
        C: c SUBSCRIBE Work
        S: c OK Subscribe completed.
        C: d SUBSCRIBE INBOX
        S: d OK Subscribe completed.
        C: e LSUB "" *
        S: * LSUB () "/" INBOX
        S: * LSUB () "/" Work
        S: e OK Lsub completed.
        C: f UNSUBSCRIBE Work
        S: f OK Unsubscribe completed.
        C: g LSUB "" *
        S: * LSUB () "/" INBOX
        S: g OK Lsub completed.
    """)


def test_subscription_to_a_missing_or_deleted_mailbox(c):
    c.ok("a CREATE Gone")
    c.ok("b SUBSCRIBE Gone")
    c.ok("c SUBSCRIBE Never")  # RFC 3501 6.3.6: the name need not exist
    c.ok("d DELETE Gone")
    # RFC 3501 6.3.6: DELETE does not unsubscribe; LSUB still shows it, \Noselect
    assert c.cmd('e LSUB "" *') == ['* LSUB (\\Noselect) "/" Gone',
                                    '* LSUB (\\Noselect) "/" Never', "e OK Lsub completed."]


# --- modified UTF-7 -------------------------------------------------------------------------


def test_non_ascii_name_round_trip(c):
    run(c, """
        C: a CREATE &ZeVnLIqe-
        S: a OK Create completed.
        C: b CREATE Entw&APw-rfe/&AOk-t&AOk-
        S: b OK Create completed.
        C: c LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\Noselect \\HasChildren) "/" Entw&APw-rfe
        S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe/&AOk-t&AOk-
        S: * LIST (\\HasNoChildren) "/" &ZeVnLIqe-
        S: c OK List completed.
        C: d STATUS Entw&APw-rfe/&AOk-t&AOk- (MESSAGES)
        S: * STATUS Entw&APw-rfe/&AOk-t&AOk- (MESSAGES 0)
        S: d OK Status completed.
        C: e RENAME &ZeVnLIqe- &Jjo-
        S: e OK Rename completed.
        C: f LIST "" &Jjo-
        S: * LIST (\\HasNoChildren) "/" &Jjo-
        S: f OK List completed.
        C: g CREATE "a&-b"
        S: g OK Create completed.
        C: h LIST "" a*
        S: * LIST (\\HasNoChildren) "/" a&-b
        S: h OK List completed.
    """)


@pytest.mark.parametrize("name", [
    "&AC8-",       # "/" encoded: printable ASCII must be written literally
    "&AGEAYgBj-",  # "abc" encoded
    "&Jjo",        # unterminated
    "&U,BTFw-&ZeVnLIqe-",  # "," inside base64 is not allowed
    "&Jjo-&Jjo-",  # two adjacent encoded runs must be one
])
def test_invalid_modified_utf7_is_refused(c, name):
    before = tree(c.root)
    answer = c.tagged(f'a CREATE "{name}"')
    assert answer.startswith("a NO [CANNOT] Invalid mailbox name: "), answer
    assert tree(c.root) == before


@pytest.mark.parametrize("raw", ["\u00e9t\u00e9", "x\x7fy", "tab\there"])
def test_raw_8bit_and_control_characters_refused(c, raw):
    before = tree(c.root)
    answer = c.lines(b'a CREATE "' + raw.encode() + b'"\r\n')[-1]
    assert answer.startswith("a NO [CANNOT] Invalid mailbox name: "), answer
    assert tree(c.root) == before


# --- hostile names ---------------------------------------------------------------------------


HOSTILE = {
    "..": "Mailbox name has a '..' hierarchy level",
    "../x": "Mailbox name has a '..' hierarchy level",
    "a/../../x": "Mailbox name has a '..' hierarchy level",
    ".": "Mailbox name has a '.' hierarchy level",
    "a/./b": "Mailbox name has a '.' hierarchy level",
    "/etc": "Mailbox name must not begin with the hierarchy separator",
    "/": "Mailbox name must not begin with the hierarchy separator",
    "~root": "Mailbox name must not begin with '~'",
    "~": "Mailbox name must not begin with '~'",
    "a//b": "Mailbox name has an empty hierarchy level",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["CREATE {}", "DELETE {}", "RENAME INBOX {}", "RENAME {} x",
                                     "SELECT {}", "EXAMINE {}", "STATUS {} (MESSAGES)",
                                     "SUBSCRIBE {}", "APPEND {} {{1+}}\r\nx", "COPY 1 {}",
                                     "MOVE 1 {}"])
def test_hostile_names_refused_without_touching_the_file_system(tmp_path, name, command):
    c = Client(tmp_path / "Maildir")
    c.append(message())
    c.ok("s SELECT INBOX")
    c.ok("k CREATE keep")
    before_outside = set(os.listdir(tmp_path))
    before = tree(c.root)
    answer = c.lines(("a " + command.format(f'"{name}"') + "\r\n").encode())
    reason = HOSTILE[name]
    if command == "CREATE {}" and name == "/":  # the trailing "/" hint is dropped first
        reason = "Mailbox name is empty"
    assert answer[-1] == f"a NO [CANNOT] {reason}", answer
    assert set(os.listdir(tmp_path)) == before_outside
    assert tree(c.root) == before
    # a failed SELECT or EXAMINE leaves no mailbox selected (RFC 3501 6.3.1)
    expected = "authenticated" if command.startswith(("SELECT", "EXAMINE")) else "selected"
    assert c.session.state.value == expected


def test_over_long_name_refused(c):
    before = tree(c.root)
    assert c.tagged("a CREATE " + "x" * 300) == "a NO [CANNOT] Mailbox name is too long"
    assert c.tagged("b CREATE " + "/".join(["y" * 200] * 30)).startswith("b NO [CANNOT] ")
    assert tree(c.root) == before


def test_nul_in_a_name_literal_is_a_syntax_error(c):
    # CHAR8 excludes NUL (RFC 3501 section 9): BAD, and nothing is created
    before = tree(c.root)
    assert c.lines(b"a CREATE {3}\r\na\x00b\r\n") == [
        "+ OK", "a BAD Error in IMAP command CREATE: NUL in a literal string"]
    assert c.lines(b"b CREATE {3+}\r\na\x00b\r\n") == [
        "b BAD Error in IMAP command CREATE: NUL in a literal string"]
    assert c.lines(b'c CREATE "a\x00b"\r\n') == [
        "c BAD Error in IMAP command CREATE: NUL in a quoted string"]
    assert tree(c.root) == before


def test_control_character_via_literal_refused(c):
    before = tree(c.root)
    answer = c.lines(b"a CREATE {3}\r\na\x01b\r\n")
    assert answer[0] == "+ OK"
    assert answer[1].startswith("a NO [CANNOT] Invalid mailbox name: ")
    assert tree(c.root) == before


def test_planted_symlink_does_not_lead_outside(tmp_path):
    c = Client(tmp_path / "Maildir")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, c.root / ".Evil")
    answer = c.tagged("a CREATE Evil")
    assert answer.startswith("a NO "), answer
    assert os.listdir(outside) == []
    assert c.tagged("b SELECT Evil").startswith("b NO ")
    assert c.tagged("c DELETE Evil").startswith("c NO ")
    assert outside.is_dir()


def test_rename_selected_mailbox_or_its_parent_refused(c):
    c.ok("a CREATE Box/Sub")
    c.ok("b SELECT Box/Sub")
    assert c.tagged("c RENAME Box/Sub Other") == "c NO [INUSE] Can't rename the selected mailbox."
    assert c.tagged("d RENAME Box Other") == "d NO [INUSE] Can't rename the selected mailbox."
    assert c.cmd("e NOOP") == ["e OK NOOP completed."]
    c.ok("f CREATE Boxer")
    c.ok("g RENAME Boxer Other")  # a sibling with a common prefix is not a parent


def test_rename_inbox_while_selected_announces_the_expunges(c):
    c.append(message())
    c.ok("s SELECT INBOX")
    assert c.cmd("r RENAME INBOX Moved") == ["* 1 EXPUNGE", "r OK Rename completed."]
    assert c.cmd("n NOOP") == ["n OK NOOP completed."]
    assert c.cmd("t STATUS Moved (MESSAGES)")[0] == "* STATUS Moved (MESSAGES 1)"
