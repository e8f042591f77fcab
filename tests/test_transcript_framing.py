"""Framing: pipelining, literals (RFC 3501 4.3, 7.5; LITERAL+ RFC 7888), limits, syntax
errors and the bad-command counter. No answer may ever hold a Python traceback (the
helper checks every one)."""

from __future__ import annotations

import pytest

from imapsession.session import Limits
from transcript import Client, message, run


@pytest.fixture
def c(tmp_path):
    return Client(tmp_path / "Maildir")


@pytest.fixture
def small(tmp_path):
    """Small limits so that tests can cross them cheaply."""
    return Client(tmp_path / "Small",
                  limits=Limits(max_line=1000, max_literal=100, max_command=300,
                                max_literals=10, max_discard=3000))


def test_pipelining_several_commands_in_one_receive(c):
    run(c, """
        C: a NOOP
        C: b SELECT INBOX
        C: c FETCH 1:* FLAGS
        C: d UID SEARCH ALL
        S: a OK NOOP completed.
        S: * FLAGS (<*>)
        S: * OK [PERMANENTFLAGS (<*>)] Flags permitted.
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 1] Predicted next UID
        S: b OK [READ-WRITE] Select completed.
        S: c BAD Invalid messageset
        S: * SEARCH
        S: d OK Search completed.
    """)


def test_pipelined_appends_with_literals_then_fetch(c):
    m1, m2 = message("one"), message("two")
    data = (b"s SELECT INBOX\r\n"
            + b"a APPEND INBOX {%d+}\r\n" % len(m1) + m1 + b"\r\n"
            + b"b APPEND INBOX {%d}\r\n" % len(m2) + m2 + b"\r\n"
            + b"c UID FETCH 1:* RFC822.SIZE\r\nd LOGOUT\r\n")
    answer = c.lines(data)
    assert answer.count("+ OK") == 1
    assert [line for line in answer if "FETCH" in line] == [
        f"* 1 FETCH (UID 1 RFC822.SIZE {len(m1)})", f"* 2 FETCH (UID 2 RFC822.SIZE {len(m2)})"]
    assert answer[-2:] == ["* BYE Logging out", "d OK Logout completed."]
    assert c.finished


def test_command_fed_one_byte_at_a_time(c):
    data = b'a STATUS INBOX (MESSAGES)\r\n'
    for octet in data[:-1]:
        assert c.send(bytes([octet])) == b""
    assert c.lines(data[-1:]) == ["* STATUS INBOX (MESSAGES 0)", "a OK Status completed."]


def test_bare_lf_ends_a_line(c):
    run(c, """
        C~ a NOOP
        C~ b NOOP
        S: a OK NOOP completed.
        S: b OK NOOP completed.
    """)


def test_synchronising_literal_gets_continuation_only_after_its_line(c):
    assert c.send(b'a LIST "" {1}') == b""          # no line end yet: nothing
    assert c.lines(b"\r\n") == ["+ OK"]            # now the continuation
    assert c.send(b"*") == b""                      # the literal, then the rest of the line
    assert c.lines(b"\r\n") == ['* LIST (\\HasNoChildren) "/" INBOX', "a OK List completed."]


def test_non_synchronising_literal_gets_no_continuation(c):
    assert c.send(b'a LIST "" {1+}\r\n') == b""
    assert c.lines(b"*\r\n") == ['* LIST (\\HasNoChildren) "/" INBOX', "a OK List completed."]


def test_two_literals_in_one_command(c):
    c.ok("x CREATE Old")
    assert c.lines(b"a RENAME {3}\r\n") == ["+ OK"]
    assert c.lines(b"Old {3}\r\n") == ["+ OK"]
    assert c.lines(b"New\r\n") == ["a OK Rename completed."]


def test_literal_over_the_limit_refused_before_continuation(small):
    run(small, """
        C: a LIST "" {101}
        S: a BAD [TOOBIG] Literal too large
        C: b NOOP
        S: b OK NOOP completed.
    """)


def test_non_sync_literal_over_the_limit_is_discarded_not_parsed(small):
    # the literal's content looks like commands; none of them may run
    literal = b"x LOGOUT\r\ny CREATE evil\r\n" + b"z" * 80
    data = b'a LIST "" {%d+}\r\n' % len(literal) + literal + b"\r\nb NOOP\r\n"
    assert small.lines(data) == ["a BAD [TOOBIG] Literal too large", "b OK NOOP completed."]
    assert not small.finished
    assert not (small.root / ".evil").exists()


def test_non_sync_literal_over_the_limit_split_across_receives(small):
    literal = b"q LOGOUT\r\n" * 20
    head = b'a LIST "" {%d+}\r\n' % len(literal)
    assert small.lines(head) == []
    for i in range(0, len(literal), 13):
        assert small.lines(literal[i:i + 13]) == []
    assert small.lines(b' more "args"\r\n') == ["a BAD [TOOBIG] Literal too large"]
    assert small.cmd("b NOOP") == ["b OK NOOP completed."]


def test_non_sync_literal_far_over_the_limit_ends_the_session(small):
    assert small.lines(b'a LIST "" {5000+}\r\n') == ["* BYE [TOOBIG] Literal too large"]
    assert small.finished


def test_non_sync_literal_of_megabytes_is_discarded_and_the_session_goes_on(c):
    """RFC 7888 section 4: read and drop a too-large LITERAL+, answer, go on."""
    size = 3 * 1024 * 1024
    assert c.lines(b'a LIST "" {%d+}\r\n' % size) == []
    chunk = b"x LOGOUT\r\n" * 6000
    sent = 0
    while sent < size:
        part = chunk[:size - sent]
        assert c.lines(part) == []
        sent += len(part)
    assert c.lines(b"\r\nb NOOP\r\n") == ["a BAD [TOOBIG] Literal too large",
                                           "b OK NOOP completed."]
    assert not c.finished


def test_declared_literal_past_the_discard_cap_is_not_waited_for(c):
    assert c.lines(b'a LIST "" {4294967295+}\r\n') == ["* BYE [TOOBIG] Literal too large"]
    assert c.finished


def test_synchronising_literal_past_any_limit_is_refused_before_continuation(c):
    assert c.lines(b'a LIST "" {4294967295}\r\n') == ["a BAD [TOOBIG] Literal too large"]
    assert c.cmd("b NOOP") == ["b OK NOOP completed."]


@pytest.mark.parametrize("count", [1001, 100_000])
def test_too_many_literals_are_discarded_and_answered_bad_limit(c, count):
    """CVE-2024-34055 class: no state per literal past the limit, and the session goes on."""
    data = b"m LOGIN " + b"{1+}\r\nx " * count + b"x\r\nb NOOP\r\n"
    assert c.lines(data) == ["m BAD [LIMIT] Too many literals in one command",
                             "b OK NOOP completed."]
    assert not c.finished


def test_too_many_literals_then_a_synchronising_one_is_refused_without_continuation(c):
    data = b"m LOGIN " + b"{1+}\r\nx " * 1000 + b"{1}\r\n"
    assert c.lines(data) == ["m BAD [LIMIT] Too many literals in one command"]
    assert c.cmd("b NOOP") == ["b OK NOOP completed."]


def test_too_many_literals_past_the_discard_cap_end_the_session(small):
    answer = small.lines(b"m LOGIN " + b"{1+}\r\nx " * 500 + b"x\r\n")
    assert answer == ["* BYE [LIMIT] Too much input to discard"]
    assert small.finished


def test_command_over_its_memory_limit_is_discarded_and_answered(small):
    literal = b"y" * 100
    data = b"a LOGIN " + (b"{100+}\r\n" + literal + b" ") * 4 + b"x\r\nb NOOP\r\n"
    assert small.lines(data) == ["a BAD [LIMIT] Command is too large", "b OK NOOP completed."]


def test_over_long_line_with_a_literal_past_the_cap_ends_the_session(small):
    assert small.lines(b"a " + b"x" * 1200 + b" {5000+}\r\n") == [
        "* BYE [TOOBIG] Literal too large"]
    assert small.finished


def test_endless_line_past_the_discard_cap_ends_the_session(small):
    assert small.lines(b"a " + b"x" * 1500) == []
    assert small.lines(b"x" * 1400) == []
    assert small.lines(b"x" * 900) == ["* BYE [LIMIT] Too much input to discard"]
    assert small.finished


def test_over_long_line_is_bad_and_the_session_continues(small):
    run(small, f"""
        C: a {"x" * 2000}
        C: b NOOP
        S: a BAD Error in IMAP command: Too long command line
        S: b OK NOOP completed.
    """)


def test_over_long_line_split_across_receives(small):
    assert small.send(b"a SEARCH " + b"ALL " * 200) == b""
    assert small.send(b"ALL " * 200) == b""
    assert small.lines(b"ALL\r\nb NOOP\r\n") == [
        "a BAD Error in IMAP command: Too long command line", "b OK NOOP completed."]


def test_over_long_line_ending_in_a_non_sync_literal_discards_it(small):
    literal = b"c LOGOUT\r\n"
    data = b"a " + b"x" * 1200 + b" {%d+}\r\n" % len(literal) + literal + b"\r\nb NOOP\r\n"
    assert small.lines(data) == [
        "a BAD Error in IMAP command: Too long command line", "b OK NOOP completed."]
    assert not small.finished


def test_over_long_line_with_a_literal_discards_the_rest_of_the_command(small):
    literal = b"c LOGOUT\r\n"
    data = (b"a " + b"x" * 1200 + b" {%d+}\r\n" % len(literal) + literal
            + b" d LOGOUT\r\nb NOOP\r\n")
    assert small.lines(data) == [
        "a BAD Error in IMAP command: Too long command line", "b OK NOOP completed."]
    assert not small.finished


@pytest.mark.parametrize("size, shown", [
    ("-100", '"{-100}"'), ("1_0", '"{1_0}"'), (" 5", '"{"'), ("5 ", '"{5"'), ("0x5", '"{0x5}"'),
    ("+5", '"{+5}"'), ("99999999999", '"{99999999999}"'), ("", '"{}"')])
def test_malformed_literal_sizes_rejected(c, size, shown):
    answer = c.lines(b'a LIST "" {' + size.encode() + b"}\r\n")
    assert answer == [f"a BAD Error in IMAP command LIST: Invalid literal {shown}"], answer
    assert c.cmd("b NOOP") == ["b OK NOOP completed."]


def test_nul_in_a_quoted_string(c):
    assert c.lines(b'a SELECT "IN\x00BOX"\r\n') == [
        "a BAD Error in IMAP command SELECT: NUL in a quoted string"]
    assert c.session.state.value == "authenticated"


def test_quoted_string_escapes(c):
    c.ok('a CREATE "q\\"uote"')
    assert c.cmd('b LIST "" q*') == ['* LIST (\\HasNoChildren) "/" "q\\"uote"',
                                     "b OK List completed."]
    assert c.tagged('c CREATE "bad\\escape"') == (
        'c BAD Error in IMAP command CREATE: Invalid escape "\\e" in a quoted string')
    assert c.tagged('d CREATE "open') == (
        "d BAD Error in IMAP command CREATE: Missing '\"' at the end of a quoted string")


def test_deep_parentheses_are_bad(c):
    c.ok("s SELECT INBOX")
    assert c.tagged("a FETCH 1 " + "(" * 200 + "FLAGS" + ")" * 200).startswith("a BAD ")
    assert c.tagged("b STATUS INBOX " + "(" * 200 + "MESSAGES" + ")" * 200).startswith("b BAD ")
    assert c.tagged("c ID " + "(" * 200).startswith("c BAD ")


@pytest.mark.parametrize("line, error", [
    ("", "Empty command line"), ("   ", "Expected a tag, found a space"),
    ("* NOOP", 'Invalid tag "*"'), ("+ NOOP", 'Invalid tag "+"'), ("a{ NOOP", 'Invalid tag "a{"'),
    ("a%b NOOP", 'Invalid tag "a%b"'), ('a" NOOP', 'Invalid tag "a""'), ("*", 'Invalid tag "*"'),
    ("a\x01b NOOP", 'Invalid tag "a\\x01b"'), ("\xc3\xa4 NOOP", 'Invalid tag "\\xc3\\xa4"')])
def test_invalid_tags(c, line, error):
    assert c.lines(line.encode("latin-1") + b"\r\n") == [f"* BAD Error in IMAP command: {error}"]


def test_a_tag_and_a_space_then_nothing(c):
    assert c.lines(b"noop \r\n") == ["noop BAD Error in IMAP command: Missing command name"]


@pytest.mark.parametrize("word", ["NOOP", "noop", "logout", "x", "a1"])
def test_a_one_word_line_is_a_tag_without_a_command(c, word):
    """Typed by hand: the answer carries the word, so the person sees which line was refused."""
    assert c.lines(word.encode() + b"\r\n") == [
        f"{word} BAD Error in IMAP command: Missing command name"]
    assert c.lines(b"n NOOP\r\n") == ["n OK NOOP completed."]


def test_before_login_a_lone_word_is_not_echoed():
    """A SASL response sent without waiting for the "+" of a refused AUTHENTICATE is one
    word: before login it must not come back as a tag (it holds the credentials)."""
    import base64

    from imapsession.session import Session

    session = Session(None, None)
    session.login_secure = False  # a plain transport: AUTHENTICATE PLAIN is refused
    session.greeting()
    secret = base64.b64encode(b"\0bob\0Secret-Pass-1")
    out = session.receive(b"a AUTHENTICATE PLAIN\r\n" + secret + b"\r\n")
    assert secret not in out and b"Secret" not in out, out
    assert out.endswith(b"* BAD Error in IMAP command: Missing command name\r\n"), out
    assert session.receive(b"n NOOP\r\n") == b"n OK NOOP completed.\r\n"


def test_eight_bit_in_a_command_is_bad(c):
    assert c.lines(b"a NO\xc3\x96P\r\n")[-1].startswith("a BAD ")
    assert c.lines(b"a SELECT INB\xc3\x96X\r\n")[-1].startswith("a BAD ")


def test_twenty_bad_commands_in_a_row_end_the_session(c):
    for i in range(19):
        assert c.cmd(f"b{i} BOGUS")[-1].startswith(f"b{i} BAD ")
    assert not c.finished
    assert c.cmd("g NOOP") == ["g OK NOOP completed."]  # a good command resets the count
    for i in range(19):
        c.cmd(f"c{i} FETCH 1 FLAGS")  # wrong state: BAD too
    assert not c.finished
    assert c.cmd("last BOGUS") == ['last BAD Error in IMAP command: Unknown command "BOGUS"',
                                   "* BYE Too many invalid IMAP commands."]
    assert c.finished
    assert c.send(b"x NOOP\r\n") == b""


def test_bad_commands_pipelined_stop_at_the_bye(c):
    answer = c.lines(b"x BOGUS\r\n" * 25 + b"y NOOP\r\n")
    assert answer.count('x BAD Error in IMAP command: Unknown command "BOGUS"') == 20
    assert answer[-1] == "* BYE Too many invalid IMAP commands."
    assert "y OK NOOP completed." not in answer


def test_garbage_bytes_never_crash(c):
    junk = [b"\x00\x01\x02\r\n", b"a \xff\xfe\r\n", b"a FETCH \r\n", b"a UID FETCH 1:* (\r\n",
            b"a SEARCH (((\r\n", b"a APPEND {\r\n", b"a LIST {1+}\r\n", b"\r\n",
            b"a STORE 1 FLAGS.SILENT.SILENT ()\r\n", b"a ID (\"x\" {1+}\r\ny\r\n"]
    c.ok("s SELECT INBOX")
    for data in junk:
        answer = c.lines(data)
        assert all(" BAD " in line or line.startswith(("+ ", "* ")) for line in answer), answer
    assert not c.finished
