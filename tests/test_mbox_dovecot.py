"""mbox against Dovecot's imap: the same file read by both, and UIDs carried both ways.

Each test works on two copies of one mbox: Dovecot's (chowned to nobody, as it must
not run as root) and ours. Flags, UIDs, UIDVALIDITY, sizes, internal dates and the
message bytes must agree; ``\\Recent`` is left out of the comparison because each
server decides it from its own index.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from mbox_helpers import literal, open_space, spawn_dovecot_mbox, spawn_ours_mbox

pytestmark = pytest.mark.dovecot

_FETCH = re.compile(rb"^\* (\d+) FETCH \((.*)", re.S)


@pytest.fixture
def tmp_path():
    """Shadows pytest's: Dovecot runs as nobody and must reach the files."""
    top = open_space()
    yield top
    shutil.rmtree(top, ignore_errors=True)


def _home(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    (home / "mail").mkdir(parents=True)
    return home


def _append_all(server, messages) -> list[int]:
    uids = []
    for flags, date, message in messages:
        extra = (f" ({flags})" if flags else "") + (f' "{date}"' if date else "")
        answer = server.command(f"APPEND INBOX{extra}", [message])
        match = re.search(rb"APPENDUID \d+ (\d+)", answer[-1])
        assert match, answer
        uids.append(int(match.group(1)))
    return uids


def _view(server, mailbox: str = "INBOX") -> dict:
    """What a client sees: UIDVALIDITY, UIDNEXT, keywords, and per message its facts."""
    selected = b"".join(server.command(f"EXAMINE {mailbox}"))
    uidvalidity = re.search(rb"UIDVALIDITY (\d+)", selected).group(1)
    uidnext = re.search(rb"UIDNEXT (\d+)", selected).group(1)
    flags = set(re.search(rb"\* FLAGS \(([^)]*)\)", selected).group(1).split())
    messages = {}
    answer = server.command("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])")
    for response in answer[:-1]:
        match = _FETCH.match(response)
        if not match:
            continue
        text = match.group(2)
        uid = int(re.search(rb"UID (\d+)", text).group(1))
        msg_flags = set(re.search(rb"FLAGS \(([^)]*)\)", text).group(1).split()) - {b"\\Recent"}
        size = int(re.search(rb"RFC822\.SIZE (\d+)", text).group(1))
        date = re.search(rb'INTERNALDATE "([^"]*)"', text).group(1)
        body_at = re.search(rb"BODY\[\] \{(\d+)\}\r\n", text)
        body = text[body_at.end():body_at.end() + int(body_at.group(1))]
        messages[uid] = (frozenset(msg_flags), size, date, body)
    assert answer[-1].split()[1] == b"OK", answer[-1]
    return {"uidvalidity": uidvalidity, "uidnext": uidnext, "flags": flags, "messages": messages}


MESSAGES = [
    ("\\Seen $Label1", "", b"Subject: one\r\nFrom: a@example.org\r\n\r\nhello\r\nlast line"),
    ("", "", b"Subject: two\r\nX-UID: 77\r\nStatus: RO\r\n\r\nThe X-UID and Status above"
             b" are a sender's, not ours.\r\n"),
    ("\\Flagged \\Answered", "07-Feb-1994 21:52:25 -0800",
     b"Subject: three\r\n\r\n>From quoted already\r\nbody\r\n"),
    ("\\Draft \\Deleted kw2", "", b"Subject: four\r\n\r\n\r\n\r\nblank lines\r\n\r\n"),
    ("", "", b"Subject: five\r\nContent-Length: 3\r\n\r\nA false Content-Length.\r\n"),
]


def test_a_dovecot_mbox_reads_the_same_in_both(tmp_path):
    """Dovecot writes an mbox (APPEND, STORE, EXPUNGE); both servers then read copies of it."""
    home = _home(tmp_path, "dv")
    with spawn_dovecot_mbox(home) as dovecot:
        _append_all(dovecot, MESSAGES)
        dovecot.command("SELECT INBOX")
        assert dovecot.command("STORE 2 +FLAGS (\\Seen kw3)")[-1].split()[1] == b"OK"
        assert dovecot.command("UID EXPUNGE 4")[-1].split()[1] == b"OK"
        dovecot.logout()
    ours_home = _home(tmp_path, "ours")
    shutil.copy(home / "mail" / "inbox", ours_home / "mail" / "inbox")
    with spawn_dovecot_mbox(home) as dovecot:
        theirs = _view(dovecot)
        dovecot.logout()
    with spawn_ours_mbox(ours_home) as ours:
        mine = _view(ours)
        ours.logout()
    assert len(theirs["messages"]) == 4
    assert mine == theirs


def test_an_mbox_an_mda_wrote_reads_the_same_in_both(tmp_path):
    """No X-IMAPbase, CRLF and LF mixed, mutt's Status/X-Status, Content-Length right and wrong."""
    raw = (b"From alice@example.org  Mon Feb  7 21:52:25 1994\n"
           b"Subject: a\nStatus: RO\nX-Status: AF\n\nbody a\nFrom the middle, not a From line\n\n"
           b"From bob@example.org Tue Mar  1 10:00:00 2022\n"
           b"Subject: b\r\nContent-Length: 9\r\n\r\nbody b\r\n\n"
           b"From carol@example.org  Wed Mar  2 11:00:00 2022\n"
           b"Subject: c\nContent-Length: 2\n\nlonger than two\n\n"
           b"From dave@example.org  Thu Mar  3 12:00:00 2022\n"
           b"Subject: d\nX-Keywords: $Junk\n\nd\n\n")
    theirs_home, ours_home = _home(tmp_path, "dv"), _home(tmp_path, "ours")
    for home in (theirs_home, ours_home):
        (home / "mail" / "inbox").write_bytes(raw)
    with spawn_dovecot_mbox(theirs_home) as dovecot:
        theirs = _view(dovecot)
        dovecot.logout()
    with spawn_ours_mbox(ours_home) as ours:
        mine = _view(ours)
        ours.logout()
    assert len(theirs["messages"]) == 4
    # each server gives a file without X-IMAPbase its own UIDVALIDITY
    theirs.pop("uidvalidity"), mine.pop("uidvalidity")
    assert mine == theirs


def test_uids_written_by_dovecot_are_kept_by_us(tmp_path):
    home = _home(tmp_path, "dv")
    with spawn_dovecot_mbox(home) as dovecot:
        uids = _append_all(dovecot, MESSAGES)
        dovecot.command("SELECT INBOX")
        dovecot.command("UID EXPUNGE 1:3")  # nothing is \Deleted there: a no-op
        dovecot.command("STORE 4 -FLAGS (\\Deleted)")
        dovecot.command("STORE 1 +FLAGS (\\Deleted)")
        dovecot.command("EXPUNGE")
        theirs = _view(dovecot)
        dovecot.logout()
    ours_home = _home(tmp_path, "ours")
    shutil.copy(home / "mail" / "inbox", ours_home / "mail" / "inbox")
    with spawn_ours_mbox(ours_home) as ours:
        mine = _view(ours)
        ours.logout()
    assert sorted(mine["messages"]) == uids[1:]
    assert (mine["uidvalidity"], mine["uidnext"]) == (theirs["uidvalidity"], theirs["uidnext"])
    assert {u: m[0] for u, m in mine["messages"].items()} == {
        u: m[0] for u, m in theirs["messages"].items()}


def test_uids_written_by_us_are_kept_by_dovecot(tmp_path):
    home = _home(tmp_path, "ours")
    with spawn_ours_mbox(home) as ours:
        uids = _append_all(ours, MESSAGES)
        ours.command("SELECT INBOX")
        ours.command("STORE 2 +FLAGS (\\Seen kw3 $Forwarded)")  # in the reserved space
        ours.command("STORE 1 +FLAGS (\\Deleted)")
        ours.command("EXPUNGE")  # the first message goes: X-IMAPbase moves to the next
        # more than the padding holds: the file is rewritten from here, behind the journal
        ours.command("STORE 1 +FLAGS (keyword-number-one keyword-number-two"
                     " keyword-number-three keyword-number-four)")
        ours.command("APPEND INBOX (\\Seen)", [b"Subject: six\r\n\r\nsix\r\n"])
        mine = _view(ours)
        ours.logout()
    # the first went by EXPUNGE, the fourth too (appended with \Deleted)
    assert sorted(mine["messages"]) == [uids[1], uids[2], uids[4], uids[4] + 1]
    dv_home = _home(tmp_path, "dv")
    shutil.copy(home / "mail" / "inbox", dv_home / "mail" / "inbox")
    with spawn_dovecot_mbox(dv_home) as dovecot:
        theirs = _view(dovecot)
        dovecot.logout()
    assert theirs == mine


def test_hidden_headers_are_not_served_or_counted(tmp_path):
    home = _home(tmp_path, "ours")
    message = b"Subject: x\r\nX-UID: 9\r\nX-Keywords: foo\r\nStatus: RO\r\n\r\nbody\r\n"
    with spawn_ours_mbox(home) as ours:
        ours.command("APPEND INBOX", [message])
        answer = b"".join(ours.command("EXAMINE INBOX") + ours.command(
            "FETCH 1 (RFC822.SIZE BODY.PEEK[])"))
        ours.logout()
    served = b"Subject: x\r\n\r\nbody\r\n"
    assert b"RFC822.SIZE %d BODY[] %s" % (len(served), literal(served)) in answer
    assert b"X-UID: 1\n" in (home / "mail" / "inbox").read_bytes()


def test_the_awkward_corpus_delivered_to_an_mbox_reads_the_same_in_both(tmp_path):
    """tests/mail/*.eml, delivered as an MDA does, read by both servers from copies."""
    from mbox_helpers import deliver

    from mailgen import load_corpus

    corpus = load_corpus()
    theirs_home, ours_home = _home(tmp_path, "dv"), _home(tmp_path, "ours")
    for i, (_, data) in enumerate(corpus):
        deliver(theirs_home / "mail" / "inbox", data, date=1_600_000_000 + 3600 * i)
    shutil.copy(theirs_home / "mail" / "inbox", ours_home / "mail" / "inbox")
    with spawn_dovecot_mbox(theirs_home) as dovecot:
        theirs = _view(dovecot)
        dovecot.logout()
    with spawn_ours_mbox(ours_home) as ours:
        mine = _view(ours)
        ours.logout()
    assert len(theirs["messages"]) == len(corpus)
    theirs.pop("uidvalidity"), mine.pop("uidvalidity")
    assert mine == theirs


def test_a_session_follows_dovecot_rewriting_the_file_under_it(tmp_path):
    """Dovecot expunges and flags in the same file while our session has it selected."""
    home = _home(tmp_path, "shared")
    with spawn_ours_mbox(home) as ours:
        _append_all(ours, [("", "", f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
                           for i in range(1, 4)])
        ours.command("SELECT INBOX")
        assert b"body 1" in b"".join(ours.command("FETCH 1 BODY.PEEK[]"))  # offsets cached
        with spawn_dovecot_mbox(home) as dovecot:  # chowns the tree: Dovecot runs as nobody
            dovecot.command("SELECT INBOX")
            dovecot.command("STORE 1 +FLAGS (\\Deleted)")
            assert dovecot.command("EXPUNGE")[-1].split()[1] == b"OK"
            dovecot.command("STORE 2 +FLAGS (\\Flagged)")  # was message 3
            dovecot.logout()
        answer = b"".join(ours.command("UID FETCH 2:3 (BODY.PEEK[TEXT])"))
        assert b"body 2" in answer and b"body 3" in answer and b"body 1" not in answer
        told = answer + b"".join(ours.command("NOOP"))  # UID FETCH may already tell
        assert b"* 1 EXPUNGE" in told and b"(UID 3 FLAGS (\\Flagged" in told, told
        ours.logout()
