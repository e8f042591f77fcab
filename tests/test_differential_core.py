"""Our server against Dovecot's imap, byte for byte, on copies of the same maildir.

Both servers get a private copy of the maildir written by ``core_mail`` and one
long session each (SELECT INBOX once, then read-only commands: PEEK fetches,
SEARCH), so ``\\Recent`` and the rest of the state evolve identically.

Deliberate differences, the only things normalised away:

1. The text after the status (and response code) of every tagged response, and
   of untagged ``OK`` responses that carry a response code: RFC 3501 section
   7.1 makes resp-text human-readable, and Dovecot appends timings to it.
2. The UIDVALIDITY value: RFC 3501 section 2.3.1.1 leaves it to the server
   (Dovecot derives it from the time the index was made).
3. ``NO [BADCHARSET]`` for an unknown SEARCH charset: we list the charsets we
   accept, ``[BADCHARSET (US-ASCII UTF-8)]``, which RFC 3501 section 7.1 allows
   ("optionally followed by a parenthesized list of charsets") and our core
   issue asks for; Dovecot sends the bare code. Ours is mapped to Dovecot's.

Set ``IMAPSESSION_DIFF_OURS=dovecot`` to run Dovecot on both sides, which checks
this harness itself while our server is not ready.
"""

from __future__ import annotations

import os
import re

import pytest

import core_mail
import imapproc

pytestmark = pytest.mark.dovecot

N = len(core_mail.MESSAGES)


def _spawn_ours(maildir: str) -> imapproc.ImapProcess:
    if os.environ.get("IMAPSESSION_DIFF_OURS") == "dovecot":
        return imapproc.spawn_dovecot(maildir)
    return imapproc.spawn_ours(maildir)


_TAGGED = re.compile(rb"^([A-Za-z0-9]+ (?:OK|NO|BAD))( \[[^\]]*\])?[^\r\n]*\r\n\Z")
_UNTAGGED_OK = re.compile(rb"^(\* (?:OK|NO|BAD|BYE|PREAUTH))( \[[^\]]*\])[^\r\n]*\r\n\Z")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY \d+\]")
_BADCHARSET_LIST = b"[BADCHARSET (US-ASCII UTF-8)]"


def normalise(responses: list[bytes]) -> list[bytes]:
    """Apply the deliberate differences listed in the module docstring, nothing more."""
    out = []
    for response in responses:
        for pattern in (_TAGGED, _UNTAGGED_OK):
            match = pattern.match(response)
            if match:
                response = match.group(1) + (match.group(2) or b"") + b"\r\n"
                break
        response = response.replace(_BADCHARSET_LIST, b"[BADCHARSET]")
        out.append(_UIDVALIDITY.sub(b"[UIDVALIDITY *]", response))
    return out


class Pair:
    """One session on each server; restarted together if one of them dies."""

    def __init__(self, maildir: str):
        self.maildir = maildir
        self.ours = self.dovecot = None
        self.start()

    def start(self) -> None:
        self.stop()
        self.dovecot = imapproc.spawn_dovecot(self.maildir)
        self.ours = _spawn_ours(self.maildir)
        self.greetings = (self.ours.greeting, self.dovecot.greeting)
        self.select = self.run("SELECT INBOX")

    def stop(self) -> None:
        for proc in (self.ours, self.dovecot):
            if proc is not None:
                proc.close()

    def run(self, line: str, literals=()) -> tuple[list[bytes], list[bytes]]:
        expected = self.dovecot.command(line, literals)
        try:
            got = self.ours.command(line, literals)
        except (imapproc.ImapEOF, imapproc.ImapTimeout):
            self.start()  # later tests get a fresh pair
            raise
        return normalise(got), normalise(expected)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    maildir = tmp_path_factory.mktemp("core") / "Maildir"
    core_mail.write_core_maildir(str(maildir))
    session = Pair(str(maildir))
    yield session
    session.stop()


def check(pair: Pair, line: str, literals=()) -> list[bytes]:
    ours, dovecot = pair.run(line, literals)
    assert ours == dovecot, line
    return dovecot


def literal_of(response: bytes) -> bytes:
    """The octets of the first literal in a response."""
    match = re.search(rb"\{(\d+)\}\r\n", response)
    assert match, response
    return response[match.end(): match.end() + int(match.group(1))]


# --- the session start ----------------------------------------------------------------


def test_both_greet_preauth(pair):
    ours, dovecot = pair.greetings
    assert dovecot.startswith(b"* PREAUTH ")
    assert ours.startswith(b"* PREAUTH ")


def test_select(pair):
    ours, dovecot = pair.select
    assert ours == dovecot


# --- FETCH ----------------------------------------------------------------------------

WHOLE = ["FETCH 1:* (FLAGS RFC822.SIZE)", "FETCH 1:* (UID FLAGS)", "FETCH 1:* INTERNALDATE",
         "FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE UID)", "FETCH 2:4 FAST",
         "UID FETCH 1:* (FLAGS)", "UID FETCH 3,5 BODY.PEEK[HEADER]", "UID FETCH 100:* FLAGS",
         "UID FETCH 50 FLAGS", "UID FETCH 4:2 RFC822.SIZE", "FETCH * RFC822.SIZE",
         "FETCH 1,3,5:6 (RFC822.SIZE)",
         f"FETCH {N + 1} FLAGS", "FETCH 0 FLAGS", "FETCH 1 (FLAGS", "FETCH 1 BODY.PEEK[NOPE]"]


@pytest.mark.parametrize("line", WHOLE)
def test_fetch_whole_mailbox(pair, line):
    check(pair, line)


SECTIONS = ["BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[]<0.10>",
            "BODY.PEEK[]<5.100>", "RFC822.HEADER", "BODY.PEEK[TEXT]<3.20>",
            "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]", "BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED DATE)]",
            "BODY.PEEK[1]", "BODY.PEEK[]<0.0>"]


@pytest.mark.parametrize("number", range(1, N + 1))
@pytest.mark.parametrize("section", SECTIONS)
def test_fetch_sections(pair, section, number):
    check(pair, f"FETCH {number} {section}")


def test_fetch_body_is_the_crlf_message(pair):
    """Checks the harness as much as the server: BODY[] is the file with LF made CRLF."""
    for number, message in enumerate(core_mail.MESSAGES, start=1):
        response = check(pair, f"FETCH {number} BODY.PEEK[]")[0]
        # Dovecot sends NUL as 0x80 (RFC 3501 section 4.3: no NUL in a literal).
        assert literal_of(response) == message.crlf.replace(b"\0", b"\x80")


def _straddling_offsets() -> list[tuple[int, int, int]]:
    """(message, offset, length) triples whose ranges start or end inside a CRLF made from LF."""
    out = []
    for number in (core_mail.LONG, 11, 4):
        crlf = core_mail.MESSAGES[number - 1].crlf
        ends = [m.start() for m in re.finditer(rb"\r\n", crlf)]
        for cr in (ends[0], ends[len(ends) // 2], ends[-1]):
            out += [(number, cr, 1), (number, cr + 1, 1), (number, cr - 1, 2), (number, cr, 2),
                    (number, cr + 1, 5)]
        out += [(number, len(crlf) - 3, 100), (number, len(crlf), 10), (number, len(crlf) + 7, 10),
                (number, 1000, 1000), (number, 4095, 3)]
    return out


@pytest.mark.parametrize(("number", "offset", "length"), _straddling_offsets())
def test_fetch_partial_straddling_crlf(pair, number, offset, length):
    response = check(pair, f"FETCH {number} BODY.PEEK[]<{offset}.{length}>")
    crlf = core_mail.MESSAGES[number - 1].crlf
    assert literal_of(response[0]) == crlf[offset: offset + length]


@pytest.mark.parametrize("line", [
    "FETCH 7 BODY.PEEK[2]", "FETCH 7 BODY.PEEK[1.MIME]", "FETCH 7 BODY.PEEK[1]<4.10>",
    "FETCH 6 BODY.PEEK[TEXT]<100.50>", "FETCH 1:* BODY.PEEK[HEADER.FIELDS (X-CUSTOM)]",
    "FETCH 11 RFC822.SIZE", "FETCH 1:3 (RFC822.SIZE BODY.PEEK[]<0.20>)",
])
def test_fetch_more(pair, line):
    check(pair, line)


@pytest.mark.parametrize("item", ["ENVELOPE", "BODYSTRUCTURE", "BODY"])
def test_fetch_structure(pair, item):
    check(pair, f"FETCH 1:* {item}")


def test_peek_left_flags_alone(pair):
    check(pair, "FETCH 1:* FLAGS")


# --- SEARCH ---------------------------------------------------------------------------

SEARCHES = [
    "ALL", "SEEN", "UNSEEN", "FLAGGED", "UNFLAGGED", "ANSWERED", "UNANSWERED", "DELETED",
    "UNDELETED", "DRAFT", "UNDRAFT", "RECENT", "NEW", "OLD", "KEYWORD $Important",
    "UNKEYWORD $Important",
    "LARGER 1000", "SMALLER 160", "LARGER 143", "SMALLER 143", "LARGER 0",
    "BEFORE 1-Feb-2024", "ON 1-Feb-2024", "SINCE 1-Mar-2024", "SINCE 1-Feb-2024 BEFORE 1-Mar-2024",
    "SENTBEFORE 1-Feb-2024", "SENTON 31-Jan-2024", "SENTON 1-Feb-2024", "SENTSINCE 1-Jan-2024",
    "SENTBEFORE 1-Jan-2024", "ON 1-Dec-2023",
    'HEADER Subject "lunch"', 'HEADER X-Custom ""', 'HEADER X-Long-Header "second line"',
    'HEADER Message-ID "example.com"', 'HEADER Received "c.example"', "HEADER X-Nothing x",
    "SUBJECT report", "SUBJECT party", "FROM alice", 'FROM "Alice Example"', "TO bob", "CC carol",
    "BCC secret", "BODY needle", "BODY needle-qp", 'BODY "Digest entry"', "TEXT needle",
    'TEXT "example.com"', "TEXT lunch", "BODY lunch", 'BODY ""',
    "OR SEEN FLAGGED", "NOT SEEN", "(SEEN FLAGGED)", "NOT (OR DELETED DRAFT)",
    "OR (FROM bob) (SUBJECT lunch)", "OR OR DRAFT DELETED ANSWERED", "NOT NOT SEEN",
    "2:4", "1,3,5", "*", "3:* UNSEEN", "*:10", "UID 2:5", "UID 5:* SEEN", "1:* NOT 2",
    "NOT ALL", "SEEN UNSEEN", "UID 100:*", "CHARSET US-ASCII SUBJECT lunch",
    "CHARSET UTF-8 SUBJECT lunch", "CHARSET X-UNKNOWN ALL", "SEEN (", "FROOB",
]


@pytest.mark.parametrize("criteria", SEARCHES)
def test_search(pair, criteria):
    check(pair, f"SEARCH {criteria}")


@pytest.mark.parametrize("criteria", ["ALL", "UID 3:*", "3:5", "SEEN NOT FLAGGED", "1:* LARGER 200"])
def test_uid_search(pair, criteria):
    check(pair, f"UID SEARCH {criteria}")


@pytest.mark.parametrize(("prefix", "word", "after"), [
    ("SUBJECT", "Grüße", ""),
    ("BODY", "Grüße", ""),
    ("TEXT", "wörtlich", ""),
    ("FROM", "Müller", ""),
    ("SUBJECT", "🎉", ""),
    ("FROM", "Zoë", ""),
    ("SUBJECT", "köln", ""),
    ("BODY", "Grüße", " SEEN"),
])
def test_search_charset_utf8_literal(pair, prefix, word, after):
    check(pair, f"SEARCH CHARSET UTF-8 {prefix}", [(word.encode(), after)])


def test_search_answers_sanity(pair):
    """The reference's answers are what the maildir says (guards the corpus and the harness)."""
    seen = [i for i, m in enumerate(core_mail.MESSAGES, 1) if m.flags and "S" in m.flags]
    response = check(pair, "SEARCH SEEN")[0]
    assert response == b"* SEARCH " + b" ".join(b"%d" % i for i in seen) + b"\r\n"
    assert check(pair, "SEARCH SENTON 31-Jan-2024")[0] == b"* SEARCH 3\r\n"
    assert check(pair, "SEARCH ON 1-Feb-2024")[0] == b"* SEARCH 3 4\r\n"
