"""Our server against Dovecot's imap, end to end, on the 77-message MIME corpus
(issue "Message structure to the byte"). The mime package is compared with Dovecot
function by function in test_mime_dovecot.py; this runs both servers on copies of
one maildir, so what a client receives is compared byte for byte.

Deliberate differences: those of test_differential_core.py (response text,
UIDVALIDITY, BADCHARSET's list), and the header-cache cases documented in
test_mime_dovecot.py (top-level HEADER.FIELDS of a header whose last line has no
newline or ends in CR CR LF), which are not asked for here.
"""

from __future__ import annotations

import pytest
from test_differential_core import Pair

from mailgen import corpus_maildir, load_corpus

pytestmark = pytest.mark.dovecot

MESSAGES = load_corpus()
N = len(MESSAGES)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    maildir = corpus_maildir(tmp_path_factory.mktemp("corpus") / "Maildir")
    session = Pair(str(maildir))
    yield session
    session.stop()


def check(pair: Pair, line: str, literals=()) -> None:
    ours, dovecot = pair.run(line, literals)
    assert ours == dovecot, line


@pytest.mark.parametrize("number", range(1, N + 1))
def test_structure(pair, number):
    check(pair, f"FETCH {number} (ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE)")


@pytest.mark.parametrize("number", range(1, N + 1))
def test_sections(pair, number):
    for section in ("HEADER", "TEXT", "1", "1.MIME", "2", "2.MIME", "1.1", "2.1", "1.2",
                    "3", "1.HEADER", "2.HEADER", "2.TEXT", "1.1.MIME", "2.1.1"):
        check(pair, f"FETCH {number} BODY.PEEK[{section}]")
    for partial in ("<0.100>", "<7.33>", "<100.1000>"):
        check(pair, f"FETCH {number} BODY.PEEK[]{partial}")
        check(pair, f"FETCH {number} BODY.PEEK[1]{partial}")


SEARCHES = [
    "SUBJECT report", "SUBJECT caf\u00e9", "FROM example", "FROM alice", "TO bob", "CC carol",
    "BCC dave", "HEADER Message-ID example", "HEADER X-Mailer \"\"", "HEADER Content-Type mixed",
    "BODY the", "BODY attachment", "BODY \u00fcber", "TEXT boundary", "TEXT alice",
    "TEXT =?utf-8?", "BODY base64", "LARGER 1000", "SMALLER 500", "LARGER 100000",
    "SENTBEFORE 1-Jan-2000", "SENTSINCE 1-Jan-2020", "SENTON 1-Jan-1970", "BEFORE 1-Jan-2030",
    "OR FROM alice TO alice", "NOT SUBJECT test", "(FROM a TO b)", "OR (SUBJECT x) (BODY y)",
    "SUBJECT \"\"", "HEADER Date 2024", "BODY \"line\"", "TEXT \"Content-Type\"",
    "FROM \"<\"", "TO \"@\"", "SUBJECT re", "BODY html", "TEXT html", "BODY \u65e5\u672c",
    "SUBJECT \u65e5\u672c", "FROM \u00e9", "HEADER Subject =?", "NOT BODY a", "ALL",
    "UNSEEN", "1:10 BODY e", "UID 5:20 SUBJECT a",
]


@pytest.mark.parametrize("criteria", SEARCHES)
def test_search(pair, criteria):
    data = criteria.encode("utf-8")
    if data.isascii():
        check(pair, f"SEARCH {criteria}")
    else:  # 8-bit search strings go as literals, with CHARSET UTF-8
        key, _, word = criteria.partition(" ")
        check(pair, f"SEARCH CHARSET UTF-8 {key}", [word.encode("utf-8")])
