"""Every BAD names the command, what was expected where, and the token found there.

One table per command family: the malformed command and the whole BAD line we
answer. docs/DEBUGGING.md ("What a BAD means") has the same commands beside
Dovecot 2.3's answers; ours carry at least as much (RFC 3501 section 7.1 leaves the
text free). The token is shown quoted, cut at 40 characters, with control and 8-bit
octets as ``\\xNN``; LOGIN and AUTHENTICATE never have theirs shown.
"""

from __future__ import annotations

import pytest

from imapsession.protocol.grammar.echo import shown, token_at
from imapsession.session import Session
from transcript import Client

SET = "(each may end in .SILENT)"
STORE_ITEMS = f"+FLAGS, -FLAGS or FLAGS {SET}"
SECTIONS = "(expected a part number, HEADER, TEXT, HEADER.FIELDS, HEADER.FIELDS.NOT, MIME)"
NOT_A_NUMBER = "expected a number or '*'"

MAILBOXES = [
    ("select", "SELECT: Missing mailbox name"),
    ("select inbox extra", 'SELECT: Unexpected "extra" after the arguments'),
    ('select "unterminated', "SELECT: Missing '\"' at the end of a quoted string"),
    ("select (inbox)", 'SELECT: Expected mailbox name, found "(inbox"'),
    ("examine", "EXAMINE: Missing mailbox name"),
    ("create", "CREATE: Missing mailbox name"),
    ('create "bad\\escape"', 'CREATE: Invalid escape "\\e" in a quoted string'),
    ("delete", "DELETE: Missing mailbox name"),
    ("rename inbox", "RENAME: Missing new mailbox name"),
    ("rename", "RENAME: Missing mailbox name"),
    ("subscribe", "SUBSCRIBE: Missing mailbox name"),
    ("unsubscribe", "UNSUBSCRIBE: Missing mailbox name"),
    ("status inbox", "STATUS: Missing status item list"),
    ("status inbox (messages", "STATUS: Missing ')'"),
    ("status inbox (bogus)", 'STATUS: Invalid status item "BOGUS" '
                             "(expected MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN)"),
    ("status inbox messages", "STATUS: Expected status item list '(', found \"messages\""),
    ("status inbox ()", "STATUS: Empty status item list"),
    ("list", "LIST: Missing reference name"),
    ('list ""', "LIST: Missing mailbox pattern"),
    ('lsub ""', "LSUB: Missing mailbox pattern"),
]

APPEND = [
    ("append", "APPEND: Missing mailbox name"),
    ("append inbox", "APPEND: Missing message literal"),
    ("append inbox (\\Bogus) {1+}\r\nx", 'APPEND: Invalid system flag "\\Bogus"'),
    ('append inbox "bad-date" {1+}\r\nx', 'APPEND: Invalid date-time "bad-date" '
                                         '(expected a real date as "dd-Mon-yyyy hh:mm:ss +zzzz")'),
    ("append inbox {1+}\r\nx extra", 'APPEND: Unexpected "extra" after the arguments'),
    ("append inbox (\\Seen {1+}\r\nx", 'APPEND: Expected flag, found "{1+}"'),
    ("append inbox notaliteral", 'APPEND: Expected message literal, found "notaliteral"'),
]

FETCH = [
    ("fetch", "FETCH: Missing sequence set"),
    ("fetch 1", "FETCH: Missing fetch attributes"),
    ("fetch 1 bogus", 'FETCH: Unknown fetch attribute "BOGUS"'),
    ("fetch 1 (flags", "FETCH: Missing ')'"),
    ("fetch 1 (flags bogus)", 'FETCH: Unknown fetch attribute "BOGUS"'),
    ("fetch 1 (all)", "FETCH: ALL is a macro: it stands alone, never in a list"),
    ("fetch 1 body[bogus]", f'FETCH: Invalid section "BOGUS" {SECTIONS}'),
    ("fetch 1 body[1", "FETCH: Missing ']' at the end of BODY[section]"),
    ("fetch 1 body[]<0", "FETCH: Missing '.' in the partial <origin.length>"),
    ("fetch 1 body[]<x.1>", 'FETCH: Expected partial origin (<origin.length>), found "x.1>"'),
    ("fetch 1 body[header.fields]",
     'FETCH: Expected a space before header field list after HEADER.FIELDS, found "]"'),
    ("fetch 1 body[header.fields ()]", 'FETCH: Expected header field name, found ")"'),
    ("fetch 0 flags", "FETCH: Invalid messageset \"0\" (sequence set): bad sequence number '0'"),
    ("fetch 1:x flags", "FETCH: Invalid messageset \"1:x\" (sequence set): "
                        "expected numbers, ':', ',' or '*', found \"x\""),
    ("fetch abc flags", f'FETCH: Invalid messageset "abc" (sequence set): {NOT_A_NUMBER}'),
    ("fetch 1 flags extra", 'FETCH: Unexpected "extra" after the arguments'),
    ("fetch 1 (flags) extra", 'FETCH: Unexpected "extra" after the arguments'),
    ("fetch 1 binary[text]", 'FETCH: BINARY takes only a part number, found "text"'),
    ("fetch 1 body[0]", 'FETCH: Invalid section part number "0"'),
    ("fetch 1 (flags))", 'FETCH: Unexpected ")" after the arguments'),
]

STORE = [
    ("store", "STORE: Missing sequence set"),
    ("store 1", f"STORE: Missing {STORE_ITEMS}"),
    ("store 1 xflags (\\Seen)", f'STORE: Expected {STORE_ITEMS}, found "XFLAGS"'),
    ("store 1 +flags", "STORE: Missing flags"),
    ("store 1 +flags (\\Bogus)", 'STORE: Invalid system flag "\\Bogus"'),
    ("store 1 flags (\\Seen", "STORE: Missing ')'"),
    ("store 1 +flags.loud (\\Seen)", f'STORE: Expected {STORE_ITEMS}, found "+FLAGS.LOUD"'),
    ("store x +flags (\\Seen)", f'STORE: Invalid messageset "x" (sequence set): {NOT_A_NUMBER}'),
]

SEARCH = [
    ("search", "SEARCH: Missing search keys"),
    ("search bogus", 'SEARCH: Unknown search key "BOGUS"'),
    ("search all bogus", 'SEARCH: Unknown search key "BOGUS"'),
    ("search " + "x" * 200, 'SEARCH: Unknown search key "' + "X" * 40 + '..."'),
    ("search (all", "SEARCH: Missing ')'"),
    ("search all)", 'SEARCH: Unexpected ")" after the arguments'),
    ("search ()", "SEARCH: Unexpected ')': no search key before it"),
    ("search before notadate", 'SEARCH: Invalid search date "notadate" (expected dd-Mon-yyyy)'),
    ("search before 32-Jan-2020",
     'SEARCH: Invalid search date "32-Jan-2020" (expected dd-Mon-yyyy)'),
    ("search larger", "SEARCH: Missing size after LARGER"),
    ("search larger x", 'SEARCH: Expected size after LARGER, found "x"'),
    ("search from", "SEARCH: Missing search string after FROM"),
    ("search or all", "SEARCH: Missing second search key after OR"),
    ("search not", "SEARCH: Missing search key after NOT"),
    ("search charset", "SEARCH: Missing charset name after CHARSET"),
    ("search charsetx", 'SEARCH: Unknown search key "CHARSETX"'),
    ("search charset utf-8", "SEARCH: Missing search keys after CHARSET"),
    ("search keyword \\Bogus", 'SEARCH: Invalid system flag "\\Bogus"'),
    ("search header from", 'SEARCH: Missing search string after HEADER "from"'),
    ("search uid x", f'SEARCH: Invalid messageset "x" (UID set): {NOT_A_NUMBER}'),
]

COPY_MOVE_EXPUNGE = [
    ("copy", "COPY: Missing sequence set"),
    ("copy 1", "COPY: Missing mailbox name"),
    ("copy x inbox", f'COPY: Invalid messageset "x" (sequence set): {NOT_A_NUMBER}'),
    ("move 1", "MOVE: Missing mailbox name"),
    ("copy 1 inbox extra", 'COPY: Unexpected "extra" after the arguments'),
    ("expunge extra", 'EXPUNGE: Expected no arguments, found "extra"'),
]

UID = [
    ("uid", "UID: Missing UID command (FETCH, STORE, COPY, MOVE, SEARCH or EXPUNGE)"),
    ("uid frob 1", 'UID: Unknown UID command "FROB"'),
    ("uid fetch", "UID FETCH: Missing sequence set"),
    ("uid fetch 1 bogus", 'UID FETCH: Unknown fetch attribute "BOGUS"'),
    ("uid store 1 xflags (\\Seen)", f'UID STORE: Expected {STORE_ITEMS}, found "XFLAGS"'),
    ("uid search bogus", 'UID SEARCH: Unknown search key "BOGUS"'),
    ("uid expunge", "UID EXPUNGE: Missing UID set"),
    ("uid expunge x", f'UID EXPUNGE: Invalid messageset "x" (UID set): {NOT_A_NUMBER}'),
    ("uid copy 1", "UID COPY: Missing mailbox name"),
]

ANY_STATE = [
    ("close extra", 'CLOSE: Expected no arguments, found "extra"'),
    ("noop extra", 'NOOP: Expected no arguments, found "extra"'),
    ("check extra", 'CHECK: Expected no arguments, found "extra"'),
    ("capability extra", 'CAPABILITY: Expected no arguments, found "extra"'),
    ("logout extra", 'LOGOUT: Expected no arguments, found "extra"'),
    ("unselect extra", 'UNSELECT: Expected no arguments, found "extra"'),
    ("frob", ': Unknown command "FROB"'),
    ("id", "ID: Missing ID parameter list or NIL"),
    ('id ("a"', "ID: Missing ID field value"),
    ("id bogus", "ID: Expected ID parameter list '(' or NIL, found \"bogus\""),
    ("enable", "ENABLE: Missing capability names to enable"),
]

# control and 8-bit octets are never sent back raw
UNPRINTABLE = [
    (b"frob\x01bar", ': Invalid command name "frob\\x01bar"'),
    (b"select \x01\x02", 'SELECT: Expected mailbox name, found "\\x01\\x02"'),
    (b"search from \xff\xfe", 'SEARCH: Expected search string, found "\\xff\\xfe"'),
    (b"fetch 1 \x1bbogus", 'FETCH: Expected fetch attribute, found "\\x1bbogus"'),
    (b"search \x7f", 'SEARCH: Expected search key, found "\\x7f"'),
    (b"create \"a\\\x80\"", 'CREATE: Invalid escape "\\\\x80" in a quoted string'),
    (b"select {2+}\r\n\xff\xfe", 'SELECT: Mailbox name "\\xff\\xfe" is not valid UTF-8'),
    (b'list {1+}\r\n\xff ""', 'LIST: Reference name "\\xff" is not valid UTF-8'),
    (b'list "" {1+}\r\n\xff', 'LIST: Mailbox pattern "\\xff" is not valid UTF-8'),
    (b"search charset {1+}\r\n\xff all", 'SEARCH: Charset name "\\xff" is not valid UTF-8'),
    (b"x\x00y noop", ""),  # the framer refuses NUL in a line before the grammar sees it
]


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    c.append(b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n")
    c.ok("s SELECT INBOX")
    return c


def bad(error: str) -> str:
    family, _, text = error.partition(":")
    return f"a BAD Error in IMAP command{' ' + family if family else ''}:{text}"


@pytest.mark.parametrize("table", [
    MAILBOXES, APPEND, FETCH, STORE, SEARCH, COPY_MOVE_EXPUNGE, UID, ANY_STATE],
    ids=["mailboxes", "append", "fetch", "store", "search", "copy-move-expunge", "uid", "any"])
def test_every_bad_names_the_command_and_the_token(c, table):
    for command, error in table:
        assert c.lines(f"a {command}\r\n".encode()) == [bad(error)], command
        assert c.tagged("n NOOP") == "n OK NOOP completed."  # still in step (and under 20 BADs)


def test_control_and_8bit_octets_are_escaped(c):
    for command, error in UNPRINTABLE:
        answer = c.send(b"a " + command + b"\r\n")
        assert all(0x20 <= octet < 0x7F for octet in answer.replace(b"\r\n", b"")), answer
        if error:
            assert answer.decode("ascii") == bad(error) + "\r\n", command


def test_the_state_is_checked_before_the_arguments(tmp_path):
    """As Dovecot: fixing the arguments would not help, so the state is the answer."""
    c = Client(tmp_path / "Maildir")
    for command in ("SEARCH bogus", "FETCH 1 (flags", "STORE x", "UID SEARCH", "EXPUNGE now"):
        name = "UID SEARCH" if command.startswith("UID") else command.split()[0]
        assert c.tagged(f"a {command}") == (
            f"a BAD Error in IMAP command: {name} needs a selected mailbox"), command
    # a literal is read before the command is answered, so the framing stays in step
    assert c.lines(b"b SEARCH {5}\r\n") == ["+ OK"]
    assert c.lines(b"bogus\r\nn NOOP\r\n") == [
        "b BAD Error in IMAP command: SEARCH needs a selected mailbox", "n OK NOOP completed."]
    # commands this state does run still get the argument's error
    assert c.tagged("c SELECT") == "c BAD Error in IMAP command SELECT: Missing mailbox name"


PASSWORD = "s3cr3tPW"
MALFORMED_LOGINS = [
    (f"login user {PASSWORD} extra", "LOGIN: Unexpected extra arguments (not shown)"),
    (f"login user {PASSWORD}\x01", "LOGIN: Unexpected extra arguments (not shown)"),
    (f"login user {PASSWORD}\xff", "LOGIN: Unexpected extra arguments (not shown)"),
    (f'login "user" "{PASSWORD}', "LOGIN: Missing '\"' at the end of a quoted string"),
    (f'login user "{PASSWORD}\\q"', "LOGIN: Invalid escape (not shown) in a quoted string"),
    (f"login user ({PASSWORD})", "LOGIN: Expected password, found (not shown)"),
    (f"login {PASSWORD}", "LOGIN: Missing password"),
    (f"login {PASSWORD}(", "LOGIN: Expected a space before password, found (not shown)"),
    (f"login {{4+}}\r\nuser {{8+}}\r\n{PASSWORD} extra",
     "LOGIN: Unexpected extra arguments (not shown)"),
    (f"login user {{8+}}\r\n{PASSWORD} {{1+}}\r\nx", "LOGIN: Unexpected extra arguments (not shown)"),
    ("login", "LOGIN: Missing user name"),
    (f"authenticate plain {PASSWORD}!", "AUTHENTICATE: Unexpected extra arguments (not shown)"),
    (f"authenticate {PASSWORD}\x01", "AUTHENTICATE: Unexpected extra arguments (not shown)"),
    (f"authenticate plain {PASSWORD} more", "AUTHENTICATE: Unexpected extra arguments (not shown)"),
    ("authenticate plain !!!", "AUTHENTICATE: Invalid SASL initial response"),
    ("authenticate", "AUTHENTICATE: Missing SASL mechanism name"),
]


def test_shown_tokens_are_quoted_printable_and_cut():
    assert shown(b"a\x00b\r\n\xff\x7f\\") == '"a\\x00b\\x0d\\x0a\\xff\\x7f\\"'
    assert shown("x" * 40) == '"' + "x" * 40 + '"'
    assert shown("x" * 41) == '"' + "x" * 40 + '..."'
    assert token_at(b"a (b c)", 2) == b"(b" and token_at(b"a x)", 2) == b"x"


def test_no_bad_ever_shows_a_login_password():
    session = Session(None, None)
    session.login_secure = True
    for command, error in MALFORMED_LOGINS:
        answer = session.receive(b"a " + command.encode("latin-1") + b"\r\n")
        assert PASSWORD.encode() not in answer and b"cr3t" not in answer, answer
        assert all(0x20 <= octet < 0x7F for octet in answer.replace(b"\r\n", b"")), answer
        assert answer.decode("ascii") == bad(error) + "\r\n", command
    assert session.receive(b"n NOOP\r\n") == b"n OK NOOP completed.\r\n"


def test_login_after_authentication_is_refused_for_its_state(c):
    """Malformed or not: the state's answer, which shows nothing of the arguments."""
    for command, _ in MALFORMED_LOGINS:
        answer = c.send(b"a " + command.encode("latin-1") + b"\r\n").decode("ascii")
        name = command.split()[0].upper()
        assert answer == f"a BAD Error in IMAP command: {name} is not allowed after authentication\r\n"
