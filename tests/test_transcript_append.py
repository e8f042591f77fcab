"""APPEND (RFC 3501 6.3.11), APPENDUID (RFC 4315), LITERAL+ (RFC 7888), APPENDLIMIT."""

from __future__ import annotations

import os
import re

import pytest

from imapsession.session import Limits
from transcript import Client, message, run


@pytest.fixture
def c(tmp_path):
    return Client(tmp_path / "Maildir")


def uidvalidity(c: Client, mailbox: str = "INBOX") -> int:
    line = c.cmd(f"v STATUS {mailbox} (UIDVALIDITY)")[0]
    return int(re.search(r"UIDVALIDITY (\d+)", line).group(1))


def files(root) -> list[str]:
    """Message files (cur/ and new/) of every folder below root."""
    out = []
    for dirpath, _, names in os.walk(root):
        if os.path.basename(dirpath) in ("cur", "new"):
            out += [os.path.join(dirpath, n) for n in names]
    return out


def tmp_files(root) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        if os.path.basename(dirpath) == "tmp":
            out += names
    return out


def test_append_synchronising_literal_with_flags_and_date(c):
    m = message("dated")
    assert c.lines(b'a APPEND INBOX (\\Seen $Foo) "17-Jul-1996 02:44:25 -0700" {%d}\r\n'
                   % len(m)) == ["+ OK"]
    answer = c.lines(m + b"\r\n")
    assert answer == [f"a OK [APPENDUID {uidvalidity(c)} 1] Append completed."]
    run(c, f"""
        C: b SELECT INBOX
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo)
        S: <*>
        S: * 1 EXISTS
        S: * 1 RECENT
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 2] Predicted next UID
        S: b OK [READ-WRITE] Select completed.
        C: c FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)
        S: * 1 FETCH (FLAGS (\\Seen \\Recent $Foo) INTERNALDATE "<date>" RFC822.SIZE {len(m)} UID 1)
        S: c OK Fetch completed.
    """)
    # the internal date is the moment given, whatever zone it is shown in
    line = c.cmd("d FETCH 1 INTERNALDATE")[0]
    from imapsession.protocol.types import parse_date_time

    shown = parse_date_time(re.search(r'"(.*)"', line).group(1))
    assert shown == parse_date_time("17-Jul-1996 02:44:25 -0700")


def test_append_non_synchronising_literal_gets_no_continuation(c):
    assert c.lines(b"a APPEND INBOX {5+}\r\n") == []
    assert c.lines(b"hello\r\n") == [f"a OK [APPENDUID {uidvalidity(c)} 1] Append completed."]


def test_append_uids_increase_and_match_uidnext(c):
    assert [c.append(message(str(i))) for i in range(3)] == [1, 2, 3]
    assert c.cmd("s STATUS INBOX (UIDNEXT MESSAGES)")[0] == (
        "* STATUS INBOX (UIDNEXT 4 MESSAGES 3)")


def test_append_date_with_leading_space_for_single_digit_day(c):
    c.append(b"Subject: x\r\n\r\nbody\r\n", date=" 7-Jul-1996 02:44:25 +0000")
    c.ok("s SELECT INBOX")
    line = c.cmd("f FETCH 1 INTERNALDATE")[0]
    from imapsession.protocol.types import parse_date_time

    shown = parse_date_time(re.search(r'"(.*)"', line).group(1))
    assert shown == parse_date_time("07-Jul-1996 02:44:25 +0000")


def test_append_to_missing_mailbox_is_trycreate(c):
    before = files(c.root)
    run(c, """
        C: a APPEND nothere {3+}
        C: abc
        S: a NO [TRYCREATE] Mailbox doesn't exist: nothere
    """)
    assert files(c.root) == before


def test_append_zero_size_refused(c):
    run(c, """
        C: a APPEND INBOX {0}
        C:
        S: + OK
        S: a NO Can't save a zero byte message.
        C: b APPEND INBOX {0+}
        C:
        S: b NO Can't save a zero byte message.
    """)
    assert files(c.root) == []


def test_append_into_selected_mailbox_announces_exists(c):
    c.ok("s SELECT INBOX")
    run(c, """
        C: a APPEND INBOX {3+}
        C: abc
        S: * 1 EXISTS
        S: * 1 RECENT
        S: a OK [APPENDUID <n> 1] Append completed.
    """)


def test_append_into_another_mailbox_while_selected(c):
    c.ok("a CREATE Other")
    c.ok("s SELECT INBOX")
    assert c.lines(b"a APPEND Other {3+}\r\nabc\r\n") == [
        f"a OK [APPENDUID {uidvalidity(c, 'Other')} 1] Append completed."]


def test_append_lf_message_size_counts_crlf(c):
    m = b"Subject: lf\n\nline one\nline two\n"
    c.append(m)
    c.ok("s SELECT INBOX")
    size = len(m.replace(b"\n", b"\r\n"))
    assert c.cmd("f FETCH 1 RFC822.SIZE")[0] == f"* 1 FETCH (RFC822.SIZE {size})"


_DATE_TIME = '(expected a real date as "dd-Mon-yyyy hh:mm:ss +zzzz")'


@pytest.mark.parametrize("args, error", [
    ("(\\Recent) {3+}", 'Invalid system flag "\\Recent"'),
    ("(\\Bogus) {3+}", 'Invalid system flag "\\Bogus"'),
    ('"bad date" {3+}', f'Invalid date-time "bad date" {_DATE_TIME}'),
    ('"31-Feb-2020 00:00:00 +0000" {3+}', f'Invalid date-time "31-Feb-2020 00:00:00 +0000" {_DATE_TIME}'),
    ('"7-Jul-1996 02:44:25 +0000" {3+}', f'Invalid date-time "7-Jul-1996 02:44:25 +0000" {_DATE_TIME}'),
    ("(\\Seen {3+}", 'Expected flag, found "{3+}"'),
])
def test_append_syntax_errors(c, args, error):
    assert c.lines(f"a APPEND INBOX {args}\r\nabc\r\n".encode()) == [
        f"a BAD Error in IMAP command APPEND: {error}"]
    assert files(c.root) == []
    assert c.tagged("n NOOP") == "n OK NOOP completed."


def test_append_missing_message(c):
    assert c.tagged("a APPEND INBOX").startswith("a BAD ")
    assert c.tagged('a APPEND INBOX "abc"').startswith("a BAD ")
    assert c.tagged("a APPEND INBOX (\\Seen)").startswith("a BAD ")


def test_append_extra_arguments_after_literal(c):
    assert c.lines(b"a APPEND INBOX {3+}\r\nabc extra\r\n") == [
        'a BAD Error in IMAP command APPEND: Unexpected "extra" after the arguments']
    assert files(c.root) == []


def test_append_keyword_flags_are_kept(c):
    c.append(message(), flags="$Label1 \\Flagged NonJunk")
    c.ok("s SELECT INBOX")
    assert c.cmd("f FETCH 1 FLAGS")[0] == "* 1 FETCH (FLAGS (\\Flagged \\Recent $Label1 NonJunk))"


def test_append_larger_than_the_literal_limit_is_spooled(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_literal=100))
    body = b"Subject: big\r\n\r\n" + b"x" * 500 + b"\r\n"
    assert c.lines(b"a APPEND INBOX {%d}\r\n" % len(body)) == ["+ OK"]
    assert c.lines(body[:200]) == []
    assert c.lines(body[200:] + b"\r\n")[-1].startswith("a OK [APPENDUID ")
    c.ok("s SELECT INBOX")
    assert c.cmd("f FETCH 1 RFC822.SIZE")[0] == f"* 1 FETCH (RFC822.SIZE {len(body)})"
    assert tmp_files(c.root) == []


def test_spooled_append_to_missing_mailbox_leaves_no_file(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_literal=10))
    body = b"y" * 100
    answer = c.lines(b"a APPEND nothere {100+}\r\n" + body + b"\r\n")
    assert answer == ["a NO [TRYCREATE] Mailbox doesn't exist: nothere"]
    assert tmp_files(c.root) == [] and files(c.root) == []


def test_spooled_append_with_bad_syntax_leaves_no_file(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_literal=10))
    answer = c.lines(b"a APPEND INBOX {100+}\r\n" + b"z" * 100 + b" junk\r\n")
    assert answer == ['a BAD Error in IMAP command APPEND: Unexpected "junk" after the arguments']
    assert tmp_files(c.root) == [] and files(c.root) == []


def test_append_over_appendlimit_synchronising_refused_before_continuation(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_append=1000))
    assert "APPENDLIMIT=1000" in c.greeting
    assert c.lines(b"a APPEND INBOX {1001}\r\n") == [
        "a NO [TOOBIG] Message is larger than APPENDLIMIT"]
    # the client sends nothing more of that command: the next line is a command
    assert c.cmd("b NOOP") == ["b OK NOOP completed."]
    assert c.lines(b"c APPEND INBOX {1000}\r\n") == ["+ OK"]
    assert c.lines(b"q" * 1000 + b"\r\n")[-1].startswith("c OK [APPENDUID ")


def test_append_over_appendlimit_non_synchronising_is_discarded_and_answered(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_append=1000))
    assert c.lines(b"a APPEND INBOX {1001+}\r\n" + b"q" * 1001 + b"\r\nb NOOP\r\n") == [
        "a NO [TOOBIG] Message is larger than APPENDLIMIT", "b OK NOOP completed."]
    assert not c.finished
    assert files(c.root) == [] and tmp_files(c.root) == []


def test_append_past_the_discard_cap_ends_the_session_without_waiting(tmp_path):
    c = Client(tmp_path / "M", limits=Limits(max_append=1000))  # cap: 4 x APPENDLIMIT
    assert c.lines(b"a APPEND INBOX {4001+}\r\n") == ["* BYE [TOOBIG] Literal too large"]
    assert c.finished
    assert files(c.root) == []


def test_append_literal_split_across_receives(c):
    m = message("split")
    assert c.lines(b"a APPEND INBOX {%d+}\r\n" % len(m)) == []
    for i in range(0, len(m), 7):
        assert c.lines(m[i:i + 7]) == []
    assert c.lines(b"\r\n")[-1].startswith("a OK [APPENDUID ")
    c.ok("s SELECT INBOX")
    assert c.cmd("f FETCH 1 RFC822.SIZE")[0] == f"* 1 FETCH (RFC822.SIZE {len(m)})"
