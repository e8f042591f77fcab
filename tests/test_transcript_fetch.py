"""FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8): every data item, partials, \\Seen,
and messages stored with bare LF going out with CRLF."""

from __future__ import annotations

import re

import pytest

from transcript import Client, run

# stored with bare LF, as an outside MDA might deliver it into new/
LF_MESSAGE = (
    b"From: Alice <alice@example.org>\n"
    b"To: Bob <bob@example.org>\n"
    b"Subject: Test message\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    b"Message-ID: <1@example.org>\n"
    b"X-Extra: one\n"
    b"\n"
    b"Hello Bob,\n"
    b"this is the body.\n"
)
WIRE = LF_MESSAGE.replace(b"\n", b"\r\n")
HEADER = WIRE[: WIRE.index(b"\r\n\r\n") + 4]
TEXT = WIRE[len(HEADER):]
ENVELOPE = ('("Mon, 7 Feb 1994 21:52:25 -0800" "Test message" '
            '(("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) '
            '(("Alice" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.org")) '
            'NIL NIL NIL "<1@example.org>")')
BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 31 2)'


@pytest.fixture
def c(tmp_path):
    c = Client(tmp_path / "Maildir")
    (c.root / "new" / "1000000000.M1P1.host").write_bytes(LF_MESSAGE)
    c.ok("s SELECT INBOX")
    return c


def test_sizes_count_crlf_octets(c):
    assert (len(WIRE), len(HEADER), len(TEXT)) == (197, 166, 31)
    run(c, """
        C: a FETCH 1 (UID FLAGS RFC822.SIZE)
        S: * 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE 197)
        S: a OK Fetch completed.
    """)


def test_body_peek_whole_message_goes_out_with_crlf(c):
    out = c.send(b"a FETCH 1 BODY.PEEK[]\r\n")
    assert out == b"* 1 FETCH (BODY[] {197}\r\n" + WIRE + b")\r\na OK Fetch completed.\r\n"
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_header_and_text_sections(c):
    assert c.send(b"a FETCH 1 BODY.PEEK[HEADER]\r\n") == (
        b"* 1 FETCH (BODY[HEADER] {166}\r\n" + HEADER + b")\r\na OK Fetch completed.\r\n")
    assert c.send(b"b FETCH 1 BODY.PEEK[TEXT]\r\n") == (
        b"* 1 FETCH (BODY[TEXT] {31}\r\n" + TEXT + b")\r\nb OK Fetch completed.\r\n")


def test_header_fields_and_not(c):
    run(c, """
        C: a FETCH 1 BODY.PEEK[HEADER.FIELDS (subject FROM)]
        S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {58}
        S: From: Alice <alice@example.org>
        S: Subject: Test message
        S:
        S: )
        S: a OK Fetch completed.
        C: b FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT FROM MESSAGE-ID DATE)]
        S: * 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT FROM MESSAGE-ID DATE)] {43}
        S: To: Bob <bob@example.org>
        S: X-Extra: one
        S:
        S: )
        S: b OK Fetch completed.
        C: c FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Absent)]
        S: * 1 FETCH (BODY[HEADER.FIELDS (X-ABSENT)] {2}
        S:
        S: )
        S: c OK Fetch completed.
        C: d FETCH 1 BODY.PEEK[HEADER.FIELDS ("Subject" {2}
        S: + OK
        C: To)]
        S: * 1 FETCH (BODY[HEADER.FIELDS (SUBJECT TO)] {52}
        S: To: Bob <bob@example.org>
        S: Subject: Test message
        S:
        S: )
        S: d OK Fetch completed.
    """)


def test_partials(c):
    run(c, """
        C: a FETCH 1 BODY.PEEK[]<0.10>
        S: * 1 FETCH (BODY[]<0> {10}
        S: From: Alic)
        S: a OK Fetch completed.
        C: b FETCH 1 BODY.PEEK[TEXT]<5.1000>
        S: * 1 FETCH (BODY[TEXT]<5> {26}
        S:  Bob,
        S: this is the body.
        S: )
        S: b OK Fetch completed.
        C: c FETCH 1 BODY.PEEK[]<200.10>
        S: * 1 FETCH (BODY[]<200> {0}
        S: )
        S: c OK Fetch completed.
        C: e FETCH 1 BODY.PEEK[]<0.0>
        S: * 1 FETCH (BODY[]<0> {0}
        S: )
        S: e OK Fetch completed.
    """)
    # partial offsets count CRLF octets: 195 is the last CR, 196 the last LF
    assert c.send(b"d FETCH 1 BODY.PEEK[]<196.10>\r\n") == (
        b"* 1 FETCH (BODY[]<196> {1}\r\n\n)\r\nd OK Fetch completed.\r\n")
    assert c.send(b"f FETCH 1 BODY.PEEK[]<195.1>\r\n") == (
        b"* 1 FETCH (BODY[]<195> {1}\r\n\r)\r\nf OK Fetch completed.\r\n")


def test_part_numbers_of_a_single_part_message(c):
    run(c, """
        C: a FETCH 1 BODY.PEEK[1]
        S: * 1 FETCH (BODY[1] {31}
        S: Hello Bob,
        S: this is the body.
        S: )
        S: a OK Fetch completed.
        C: b FETCH 1 BODY.PEEK[2]
        S: * 1 FETCH (BODY[2] {0}
        S: )
        S: b OK Fetch completed.
    """)


def test_rfc822_items(c):
    assert c.send(b"a FETCH 1 RFC822.HEADER\r\n") == (
        b"* 1 FETCH (RFC822.HEADER {166}\r\n" + HEADER + b")\r\na OK Fetch completed.\r\n")
    # RFC822.HEADER is a peek: still unseen
    assert c.cmd("b FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))", "b OK Fetch completed."]
    assert c.send(b"c FETCH 1 RFC822.TEXT\r\n") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.TEXT {31}\r\n" + TEXT
        + b")\r\nc OK Fetch completed.\r\n")
    c.ok("d STORE 1 -FLAGS.SILENT (\\Seen)")
    assert c.send(b"e FETCH 1 RFC822\r\n") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822 {197}\r\n" + WIRE
        + b")\r\ne OK Fetch completed.\r\n")


def test_non_peek_sets_seen_and_reports_flags_once(c):
    assert c.send(b"a FETCH 1 BODY[TEXT]\r\n") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {31}\r\n" + TEXT
        + b")\r\na OK Fetch completed.\r\n")
    # already seen: no FLAGS added
    assert c.send(b"b FETCH 1 BODY[TEXT]\r\n") == (
        b"* 1 FETCH (BODY[TEXT] {31}\r\n" + TEXT + b")\r\nb OK Fetch completed.\r\n")
    c.ok("c STORE 1 -FLAGS.SILENT (\\Seen)")
    # FLAGS asked for explicitly: reported where asked, with \Seen already set
    assert c.send(b"d FETCH 1 (FLAGS BODY[HEADER.FIELDS (TO)])\r\n") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (TO)] {29}\r\n"
        b"To: Bob <bob@example.org>\r\n\r\n)\r\nd OK Fetch completed.\r\n")
    assert c.cmd("e STATUS INBOX (UNSEEN)")[0] == "* STATUS INBOX (UNSEEN 0)"


def test_non_peek_in_examine_does_not_set_seen(c):
    c.ok("x EXAMINE INBOX")
    assert c.send(b"a FETCH 1 BODY[TEXT]\r\n") == (
        b"* 1 FETCH (BODY[TEXT] {31}\r\n" + TEXT + b")\r\na OK Fetch completed.\r\n")
    assert c.cmd("b STATUS INBOX (UNSEEN)")[0] == "* STATUS INBOX (UNSEEN 1)"


def test_macros(c):
    run(c, f"""
        C: a FETCH 1 FAST
        S: * 1 FETCH (FLAGS (\\Recent) INTERNALDATE "<date>" RFC822.SIZE 197)
        S: a OK Fetch completed.
        C: b FETCH 1 ALL
        S: * 1 FETCH (FLAGS (\\Recent) INTERNALDATE "<date>" RFC822.SIZE 197 ENVELOPE {ENVELOPE})
        S: b OK Fetch completed.
        C: c FETCH 1 full
        S: * 1 FETCH (FLAGS (\\Recent) INTERNALDATE "<date>" RFC822.SIZE 197 ENVELOPE {ENVELOPE} BODY {BODY})
        S: c OK Fetch completed.
        C: d FETCH 1 (ALL)
        S: d BAD Error in IMAP command FETCH: ALL is a macro: it stands alone, never in a list
        C: e FETCH 1 (FAST FLAGS)
        S: e BAD Error in IMAP command FETCH: FAST is a macro: it stands alone, never in a list
    """)


def test_envelope_body_bodystructure(c):
    run(c, f"""
        C: a FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)
        S: * 1 FETCH (ENVELOPE {ENVELOPE} BODY {BODY} BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 31 2 NIL NIL NIL NIL))
        S: a OK Fetch completed.
    """)


def test_internaldate_of_a_delivered_message_is_its_mtime(c):
    import os

    path = c.root / "cur"
    name = next(iter(os.listdir(path)))
    os.utime(path / name, (784275145, 784275145))  # 07-Feb-1994 06:52:25 +0000
    c2 = Client(c.root)  # a fresh session: the internal date is cached on first read
    c2.ok("s EXAMINE INBOX")
    line = c2.cmd("a FETCH 1 INTERNALDATE")[0]
    from imapsession.protocol.types import parse_date_time

    shown = parse_date_time(re.search(r'"(.*)"', line).group(1))
    assert shown.timestamp() == 784275145


def test_uid_fetch_adds_uid_and_ignores_missing_uids(c):
    run(c, """
        C: a UID FETCH 1 FLAGS
        S: * 1 FETCH (UID 1 FLAGS (\\Recent))
        S: a OK Fetch completed.
        C: b UID FETCH 5 FLAGS
        S: b OK Fetch completed.
        C: c UID FETCH 1:* (UID FLAGS)
        S: * 1 FETCH (UID 1 FLAGS (\\Recent))
        S: c OK Fetch completed.
        C: d UID FETCH * FLAGS
        S: * 1 FETCH (UID 1 FLAGS (\\Recent))
        S: d OK Fetch completed.
        C: e UID FETCH 7:3 FLAGS
        S: e OK Fetch completed.
    """)


def test_sequence_sets(c):
    for i in range(2, 5):
        (c.root / "new" / f"100000000{i}.M{i}P1.host").write_bytes(b"Subject: %d\n\nx\n" % i)
    assert c.cmd("n NOOP") == ["* 4 EXISTS", "* 4 RECENT", "n OK NOOP completed."]
    run(c, """
        C: a FETCH 4:2 UID
        S: * 2 FETCH (UID 2)
        S: * 3 FETCH (UID 3)
        S: * 4 FETCH (UID 4)
        S: a OK Fetch completed.
        C: b FETCH 1,3,* UID
        S: * 1 FETCH (UID 1)
        S: * 3 FETCH (UID 3)
        S: * 4 FETCH (UID 4)
        S: b OK Fetch completed.
        C: c FETCH *:3 UID
        S: * 3 FETCH (UID 3)
        S: * 4 FETCH (UID 4)
        S: c OK Fetch completed.
        C: d FETCH 2,2,2 UID
        S: * 2 FETCH (UID 2)
        S: d OK Fetch completed.
    """)


@pytest.mark.parametrize("sequence", ["5", "1:5", "0", "0:1", "4294967296", "1,5"])
def test_sequence_numbers_out_of_range_are_bad(c, sequence):
    answer = c.tagged(f"a FETCH {sequence} FLAGS")
    assert answer.startswith("a BAD "), answer
    assert "messageset" in answer


def test_empty_mailbox_star_is_bad_but_uid_star_is_ok(tmp_path):
    c = Client(tmp_path / "M")
    c.ok("s SELECT INBOX")
    assert c.tagged("a FETCH 1:* FLAGS") == "a BAD Invalid messageset"
    assert c.tagged("b FETCH * FLAGS") == "b BAD Invalid messageset"
    assert c.cmd("c UID FETCH 1:* FLAGS") == ["c OK Fetch completed."]


@pytest.mark.parametrize("items, error", [
    ("", "Missing fetch attributes"),
    ("FLAGS extra", 'Unexpected "extra" after the arguments'),
    ("FLAGS (CHANGEDSINCE 1)", "FETCH modifiers are not supported"),
    ("(FLAGS", "Missing ')'"),
    ("BOGUS", 'Unknown fetch attribute "BOGUS"'),
    ("BODY[BOGUS]", 'Invalid section "BOGUS" '
                    "(expected a part number, HEADER, TEXT, HEADER.FIELDS, HEADER.FIELDS.NOT, MIME)"),
    ("BODY[HEADER.FIELDS ()]", 'Expected header field name, found ")"'),
    ("BODY[HEADER.FIELDS]",
     'Expected a space before header field list after HEADER.FIELDS, found "]"'),
    ("BODY[MIME]", "MIME needs a part number"),
    ("BODY[1]<1>", "Expected '.' in the partial <origin.length>, found \">\""),
    ("BODY.PEEK", 'Unknown fetch attribute "BODY.PEEK"'),
    ("RFC822.PEEK[]", 'Unknown fetch attribute "RFC822.PEEK" '
                      "(a [section] follows only BODY, BINARY, BINARY.SIZE)"),
    ("BODY[0]", 'Invalid section part number "0"'),
])
def test_fetch_syntax_errors(c, items, error):
    assert c.tagged(f"a FETCH 1 {items}".rstrip()) == f"a BAD Error in IMAP command FETCH: {error}"
