"""SEARCH and UID SEARCH (RFC 3501 6.4.4): every search key, OR/NOT/parentheses,
sequence and UID sets, CHARSET. Expected answers are Dovecot 2.3.19's on the same mail."""

from __future__ import annotations

import pytest

from transcript import Client, run

MESSAGES = [
    ("(\\Seen)", "01-Jan-2020 10:00:00 +0000",
     "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nCc: carol@example.org\r\n"
     "Subject: Quarterly report\r\nDate: Wed, 1 Jan 2020 09:00:00 +0000\r\n\r\n"
     "The numbers are in.\r\n"),
    ("(\\Flagged \\Answered)", "15-Feb-2020 12:00:00 +0000",
     "From: bob@example.org\r\nTo: alice@example.org\r\nBcc: secret@example.org\r\n"
     "Subject: Re: Quarterly report\r\nDate: Sat, 15 Feb 2020 11:00:00 +0000\r\n"
     "X-Custom: Hello\r\n\r\nThanks! " + "padding " * 100 + "\r\n"),
    ("(\\Deleted $Work)", "20-Mar-2021 23:30:00 +0000",
     "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\nTo: team@example.org\r\n"
     "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nDate: Sat, 20 Mar 2021 23:00:00 +0000\r\n"
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
     "Sch\u00f6ne Gr\u00fc\u00dfe\r\n"),
    ("(\\Draft)", "05-May-2022 08:00:00 +0000",
     "From: dave@example.com\r\nSubject: draft\r\n\r\nno date header here\r\n"),
]

# (search keys, sequence numbers found), as Dovecot answers them
CASES = [
    ('ALL', '1 2 3 4'),
    ('ANSWERED', '2'),
    ('UNANSWERED', '1 3 4'),
    ('DELETED', '3'),
    ('UNDELETED', '1 2 4'),
    ('DRAFT', '4'),
    ('UNDRAFT', '1 2 3'),
    ('FLAGGED', '2'),
    ('UNFLAGGED', '1 3 4'),
    ('SEEN', '1'),
    ('UNSEEN', '2 3 4'),
    ('NEW', '2 3 4'),
    ('OLD', ''),
    ('RECENT', '1 2 3 4'),
    ('KEYWORD $Work', '3'),
    ('UNKEYWORD $Work', '1 2 4'),
    ('BCC secret', '2'),
    ('CC carol', '1'),
    ('FROM alice', '1'),
    ('FROM "Alice"', '1'),
    ('FROM example.org', '1 2'),
    ('TO team', '3'),
    ('SUBJECT quarterly', '1 2'),
    ('SUBJECT "re: quarterly"', '2'),
    ('BODY numbers', '1'),
    ('BODY padding', '2'),
    ('TEXT Hello', '2'),
    ('TEXT bob', '1 2'),
    ('BEFORE 15-Feb-2020', '1'),
    ('ON 15-Feb-2020', '2'),
    ('SINCE 15-Feb-2020', '2 3 4'),
    ('SENTBEFORE 15-Feb-2020', '1 4'),
    ('SENTON 15-Feb-2020', '2'),
    ('SENTSINCE 1-Jan-2021', '3'),
    ('LARGER 500', '2'),
    ('SMALLER 200', '1 4'),
    ('HEADER X-Custom hello', '2'),
    ('HEADER X-Custom ""', '2'),
    ('HEADER Message-ID ""', ''),
    ('UID 2:3', '2 3'),
    ('UID 3:*', '3 4'),
    ('2:*', '2 3 4'),
    ('1,3', '1 3'),
    ('*', '4'),
    ('NOT SEEN', '2 3 4'),
    ('OR SEEN FLAGGED', '1 2'),
    ('OR (SEEN FLAGGED) DRAFT', '4'),
    ('NOT (OR SEEN FLAGGED)', '3 4'),
    ('(SEEN) (UNFLAGGED)', '1'),
    ('SEEN FLAGGED', ''),
    ('1:2 NOT 1', '2'),
    ('CHARSET US-ASCII SUBJECT report', '1 2'),
    ('5', ''),
]


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    for flags, date, text in MESSAGES:
        data = text.encode()
        answer = c.lines(b'a APPEND INBOX %s "%s" {%d+}\r\n' % (flags.encode(), date.encode(), len(data))
                         + data + b"\r\n")
        assert answer[-1].startswith("a OK [APPENDUID "), answer
    c.ok("s SELECT INBOX")
    return c


def test_every_key(c):
    # one session for all keys: a fixture per case would make 50 maildirs
    for keys, found in CASES:
        expected = "* SEARCH" + (" " + found if found else "")
        assert c.cmd(f"a SEARCH {keys}") == [expected, "a OK Search completed."], keys


def test_uid_search_answers_uids(c):
    c.ok("w STORE 3 -FLAGS.SILENT (\\Deleted)")
    c.ok("x STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("y EXPUNGE")  # UIDs 2 3 4 are now sequence numbers 1 2 3
    run(c, """
        C: a UID SEARCH ALL
        S: * SEARCH 2 3 4
        S: a OK Search completed.
        C: b UID SEARCH 2:3
        S: * SEARCH 3 4
        S: b OK Search completed.
        C: c UID SEARCH UID 3:*
        S: * SEARCH 3 4
        S: c OK Search completed.
        C: d SEARCH UID 3:*
        S: * SEARCH 2 3
        S: d OK Search completed.
        C: e SEARCH UID 1
        S: * SEARCH
        S: e OK Search completed.
        C: f UID SEARCH UID *
        S: * SEARCH 4
        S: f OK Search completed.
    """)


def test_charset_utf8_with_literal(c):
    run(c, """
        C: a SEARCH CHARSET UTF-8 TEXT {6}
        S: + OK
        C~ gr\u00fc\u00df
        S: * SEARCH 3
        S: a OK Search completed.
        C: b SEARCH CHARSET UTF-8 SUBJECT {7+}
        C: GR\u00dc\u00dfE
        S: * SEARCH 3
        S: b OK Search completed.
        C: c SEARCH CHARSET utf-8 FROM {7+}
        C: j\u00fcrgen
        S: * SEARCH 3
        S: c OK Search completed.
        C: d SEARCH CHARSET "UTF-8" BODY "sch\u00f6ne"
        S: * SEARCH 3
        S: d OK Search completed.
    """)


def test_unknown_charset_is_badcharset(c):
    run(c, """
        C: a SEARCH CHARSET X-UNKNOWN SUBJECT x
        S: a NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset.
        C: b SEARCH CHARSET US-ASCII SUBJECT report
        S: * SEARCH 1 2
        S: b OK Search completed.
    """)


@pytest.mark.parametrize("keys, error", [
    ("FOO", 'Unknown search key "FOO"'),
    ("SUBJECT", "Missing search string after SUBJECT"),
    ("BEFORE 2020-01-01", 'Invalid search date "2020-01-01" (expected dd-Mon-yyyy)'),
    ("BEFORE 32-Jan-2020", 'Invalid search date "32-Jan-2020" (expected dd-Mon-yyyy)'),
    ("LARGER -1", 'Expected size after LARGER, found "-1"'),
    ("LARGER x", 'Expected size after LARGER, found "x"'),
    ("NOT", "Missing search key after NOT"),
    ("OR SEEN", "Missing second search key after OR"),
    ("(SEEN", "Missing ')'"),
    ("SEEN)", 'Unexpected ")" after the arguments'),
    ("()", "Unexpected ')': no search key before it"),
    ("", "Missing search keys"),
    ("KEYWORD \\Bogus", 'Invalid system flag "\\Bogus"'),
    ("UID x", "Invalid messageset \"x\" (UID set): expected a number or '*'"),
    ("1:0", "Invalid messageset \"1:0\" (sequence set): bad sequence number '0'"),
    ("CHARSET", "Missing charset name after CHARSET"),
    ("CHARSETX", 'Unknown search key "CHARSETX"'),
])
def test_search_syntax_errors(c, keys, error):
    line = f"a SEARCH {keys}".rstrip()
    assert c.tagged(line) == f"a BAD Error in IMAP command SEARCH: {error}"


def test_unknown_key_is_bad(c):
    assert c.tagged("a SEARCH FOO BAR") == (
        'a BAD Error in IMAP command SEARCH: Unknown search key "FOO"')


def test_deep_nesting_is_bad(c):
    answer = c.tagged("a SEARCH " + "(" * 150 + "ALL" + ")" * 150)
    assert answer == "a BAD Error in IMAP command SEARCH: Too deep nesting of parentheses"
    answer = c.tagged("b SEARCH " + "NOT " * 150 + "ALL")
    assert answer == "b BAD Error in IMAP command SEARCH: Too deep nesting of search keys"
    answer = c.tagged("c SEARCH " + "OR ALL " * 150 + "ALL")
    assert answer == "c BAD Error in IMAP command SEARCH: Too deep nesting of search keys"
    # nesting within the limit works
    assert c.cmd("d SEARCH " + "(" * 50 + "SEEN" + ")" * 50) == [
        "* SEARCH 1", "d OK Search completed."]


def test_search_in_empty_mailbox(tmp_path):
    c = Client(tmp_path / "M")
    c.ok("s SELECT INBOX")
    assert c.cmd("a SEARCH ALL") == ["* SEARCH", "a OK Search completed."]
    assert c.cmd("b SEARCH 1:*") == ["* SEARCH", "b OK Search completed."]
    assert c.cmd("c UID SEARCH *") == ["* SEARCH", "c OK Search completed."]
