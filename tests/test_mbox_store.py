"""The mbox backend through the storage interface and the session: layout, locks,
in-place writes, the journal, and what a sync reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from mbox_helpers import deliver

from imapsession.config import MailLocation
from imapsession.session import Session
from imapsession.storage import open_store
from imapsession.storage.base import InvalidMailboxName, MailboxInUse
from imapsession.storage.mbox import format as mbox_format
from imapsession.storage.mbox import journal as mbox_journal
from imapsession.storage.mbox import lock as mbox_lock
from imapsession.storage.mbox import open_mbox
from transcript import message


class Client:
    """A session on an mbox store (INBOX = root/inbox)."""

    def __init__(self, root: Path):
        self.root = root
        self.inbox = root / "inbox"
        self.store = open_mbox(str(root))
        self.session = Session(self.store, "tester")
        self.session.greeting()

    def cmd(self, line: str | bytes) -> list[str]:
        data = line if isinstance(line, bytes) else line.encode() + b"\r\n"
        return self.session.receive(data).decode("utf-8", "replace").split("\r\n")[:-1]

    def ok(self, line: str | bytes) -> list[str]:
        answer = self.cmd(line)
        assert answer[-1].split()[1] == "OK", answer
        return answer

    def append(self, msg: bytes, flags: str = "") -> None:
        extra = f" ({flags})" if flags else ""
        self.ok(b"ap APPEND INBOX%s {%d+}\r\n%s\r\n" % (extra.encode(), len(msg), msg))


@pytest.fixture
def c(tmp_path) -> Client:
    return Client(tmp_path / "mail")


def test_mail_location_as_dovecot_reads_it():
    location = MailLocation.parse("mbox:~/mail:INBOX=/var/mail/%u", "/home/u")
    assert (location.format, location.path, location.option("inbox")) == (
        "mbox", "/home/u/mail", "/var/mail/%u")
    assert MailLocation.parse("mbox:~/mail", "/home/u").option("INBOX") is None


def test_open_store_dispatches_on_the_format(tmp_path):
    store = open_store(MailLocation("mbox", str(tmp_path / "m"), (("INBOX", str(tmp_path / "in")),)))
    store.append("INBOX", message(), frozenset(), None)
    assert (tmp_path / "in").read_bytes().startswith(b"From ")
    assert type(store).__name__ == "MboxStore"
    assert type(open_store(MailLocation("maildir", str(tmp_path / "md")))).__name__ == "MaildirStore"


def test_folders_are_files_and_subfolders_directories(c):
    c.ok("a CREATE Work/Projects")
    assert (c.root / "Work").is_dir() and (c.root / "Work" / "Projects").is_file()
    c.ok("b CREATE Entw&APw-rfe")
    assert (c.root / "Entw&APw-rfe").is_file()  # modified UTF-7 on disk, as Dovecot
    listing = c.ok('l LIST "" *')
    assert '* LIST (\\Noselect \\HasChildren) "/" Work' in listing
    assert '* LIST (\\HasNoChildren) "/" Work/Projects' in listing
    assert c.cmd("c CREATE Entw&APw-rfe/Alt")[-1].startswith("c NO ")  # \NoInferiors
    assert c.cmd("d CREATE .hidden")[-1].startswith("d NO [CANNOT]")
    assert c.cmd("e CREATE x.lock")[-1].startswith("e NO [CANNOT]")
    c.ok("f RENAME Work Play")
    assert (c.root / "Play" / "Projects").is_file() and not (c.root / "Work").exists()
    assert c.cmd("g DELETE Play")[-1].startswith("g NO [INUSE]")  # children first
    c.ok("h DELETE Play/Projects")
    c.ok("i DELETE Play")
    assert not (c.root / "Play").exists()


def test_planted_symlink_does_not_lead_outside(tmp_path):
    c = Client(tmp_path / "mail")
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret\n")
    (tmp_path / "mail").mkdir(exist_ok=True)
    os.symlink(outside, c.root / "Evil")
    for line in ("a CREATE Evil", "b SELECT Evil", "c DELETE Evil", "d APPEND Evil {1+}\r\nx"):
        assert c.cmd(line)[-1].split()[1] in ("NO", "BAD"), line
    assert outside.read_bytes() == b"secret\n"
    with pytest.raises(InvalidMailboxName):
        c.store.open_mailbox("Evil", readonly=True)


def test_internal_date_is_the_from_line_date(c):
    c.inbox.parent.mkdir(parents=True, exist_ok=True)
    deliver(c.inbox, b"Subject: old\n\nhi\n", date=784275145)  # Tue Nov  8 06:12:25 1994
    c.ok("s EXAMINE INBOX")
    assert '"08-Nov-1994 06:12:25 +0000"' in c.ok("f FETCH 1 INTERNALDATE")[0]


def test_append_escapes_from_lines_and_hides_our_headers(c):
    c.append(b"Subject: x\r\nX-UID: 99\r\nStatus: RO\r\n\r\nFrom here\r\n>From there\r\n")
    raw = c.inbox.read_bytes()
    assert b"\n>From here\n>From there\n" in raw and b"X-UID: 99" not in raw
    c.ok("s SELECT INBOX")
    answer = "\r\n".join(c.ok("f FETCH 1 (RFC822.SIZE BODY.PEEK[])"))
    assert "RFC822.SIZE 39 BODY[] {39}\r\nSubject: x\r\n\r\n>From here\r\n>From there\r\n" in answer


def test_content_length_counts_only_where_it_ends_at_a_from_line():
    good = b"From a  Mon Jan  1 00:00:00 2001\nContent-Length: 14\n\nFrom inside!\n\n\n"
    two = good + b"From b  Mon Jan  1 00:00:00 2001\nSubject: b\n\nb\n\n"
    spans = mbox_format.parse(two)
    assert [two[s.body_off:s.end_off] for s in spans] == [b"From inside!\n\n", b"b\n"]
    lying = (b"From a  Mon Jan  1 00:00:00 2001\nContent-Length: 3\n\nlonger\n\n"
             b"From b  Mon Jan  1 00:00:00 2001\n\nb\n\n")
    spans = mbox_format.parse(lying)
    assert [lying[s.body_off:s.end_off] for s in spans] == [b"longer\n", b"b\n"]


def test_store_writes_flags_in_place(c):
    for i in range(3):
        c.append(message(f"m{i}"))
    c.ok("s SELECT INBOX")
    before = c.inbox.read_bytes()
    ino = c.inbox.stat().st_ino
    c.ok("t STORE 2 +FLAGS (\\Seen \\Flagged \\Answered $Label1 $Label2)")
    after = c.inbox.read_bytes()
    assert c.inbox.stat().st_ino == ino and len(after) == len(before)
    changed = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
    spans = mbox_format.parse(after)
    second, first = spans[1], spans[0]
    # only message 2's reserved block and X-IMAPbase's keyword list (in message 1) moved
    assert all(second.meta_off <= i < second.meta_off + second.meta_len
               or first.meta_off <= i < first.meta_off + first.meta_len for i in changed)
    assert second.flags == {"\\Seen", "\\Flagged", "\\Answered", "$Label1", "$Label2"}
    assert first.base[2] == ("$Label1", "$Label2")


def test_a_lock_held_elsewhere_answers_inuse_and_reads_go_on(c, monkeypatch):
    c.append(message())
    c.ok("s SELECT INBOX")
    monkeypatch.setattr(mbox_lock, "LOCK_TIMEOUT", 0.3)
    lock = Path(str(c.inbox) + ".lock")
    lock.write_text(f"{os.getpid()}\n")  # a live process holds the dot-lock
    try:
        started = time.monotonic()
        assert c.cmd("t STORE 1 +FLAGS (\\Seen)")[-1].startswith("t NO [INUSE] ")
        assert time.monotonic() - started < 3
        assert "Subject: hello" in "\r\n".join(c.ok("f FETCH 1 BODY.PEEK[HEADER]"))
    finally:
        lock.unlink()
    c.ok("u STORE 1 +FLAGS (\\Seen)")


def test_a_stale_dot_lock_is_broken(c, monkeypatch):
    c.append(message())
    c.ok("s SELECT INBOX")
    monkeypatch.setattr(mbox_lock, "LOCK_TIMEOUT", 2)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    lock = Path(str(c.inbox) + ".lock")
    lock.write_text(f"{pid}\n")  # its owner is gone
    c.ok("t STORE 1 +FLAGS (\\Seen)")
    assert not lock.exists()


def test_append_truncates_back_on_failure(c, monkeypatch):
    c.append(message("first"))
    size = c.inbox.stat().st_size

    def fail(point: str) -> None:
        if point == "append-written":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(mbox_journal, "fault", fail)
    with pytest.raises(OSError):
        c.store.append("INBOX", message("second"), frozenset(), None)
    assert c.inbox.stat().st_size == size
    assert not [n for n in os.listdir(c.store.state_dir) if n.startswith("journal-")]
    monkeypatch.undo()
    result = c.store.append("INBOX", message("third"), frozenset(), None)
    assert result.uid == 2
    assert len(mbox_format.parse(c.inbox.read_bytes())) == 2


def _count_parses(monkeypatch) -> list[int]:
    starts: list[int] = []
    real = mbox_format.parse_fd

    def counting(fd, start, size, window=4 << 20):
        starts.append(start)
        return real(fd, start, size, window)

    monkeypatch.setattr(mbox_format, "parse_fd", counting)
    return starts


def test_unchanged_mbox_is_not_read_again_and_deliveries_only_scan_the_tail(tmp_path, monkeypatch):
    root = tmp_path / "mail"
    root.mkdir()
    inbox = root / "inbox"
    for i in range(200):
        deliver(inbox, message(f"m{i}"), date=1_000_000_000 + i)
    first = open_mbox(str(root))
    assert len(first.open_mailbox("INBOX", readonly=False).sync().changed) == 200
    first.close()
    starts = _count_parses(monkeypatch)
    again = open_mbox(str(root))
    box = again.open_mailbox("INBOX", readonly=False)
    known = box.sync()
    assert len(known.changed) == 200
    assert starts == []  # a second SELECT reads the index, not the file
    size = inbox.stat().st_size
    deliver(inbox, message("late"))
    result = box.sync(known.highest_modseq)
    assert starts == [size]  # only the new tail is parsed
    assert [r.uid for r in result.changed] == [201]
    assert b"Subject: late" in box.read_message(201)


def test_journal_rolls_back_an_unfinished_rewrite_and_keeps_a_later_delivery(tmp_path):
    path = tmp_path / "box"
    old = b"From a  Mon Jan  1 00:00:00 2001\n\none\n\nFrom b  Mon Jan  1 00:00:00 2001\n\ntwo\n\n"
    path.write_bytes(old)
    journal = str(tmp_path / "journal")
    fd = os.open(path, os.O_RDWR)
    try:
        mbox_journal.begin(journal, fd, 37, len(old), 45)
        os.pwrite(fd, b"GARBAGE", 40)  # killed in the middle of the rewrite
        late = b"From mda  Mon Jan  1 00:00:00 2001\n\nlate\n\n"
        os.pwrite(fd, late, len(old))  # an MDA found the dot-lock stale and appended
        assert mbox_journal.recover(journal, fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == old + late
    assert not os.path.exists(journal)


def test_journal_completes_a_committed_rewrite(tmp_path):
    path = tmp_path / "box"
    old = b"From a  Mon Jan  1 00:00:00 2001\n\none\n\nFrom b  Mon Jan  1 00:00:00 2001\n\ntwo\n\n"
    path.write_bytes(old)
    journal = str(tmp_path / "journal")
    new_tail = b"From b  Mon Jan  1 00:00:00 2001\n\ntwo\n\n"
    fd = os.open(path, os.O_RDWR)
    try:
        mbox_journal.begin(journal, fd, 0, len(old), len(new_tail))
        os.pwrite(fd, new_tail, 0)
        mbox_journal.commit(journal)  # killed before the truncation
        assert mbox_journal.recover(journal, fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == new_tail


def test_a_torn_journal_is_dropped_and_the_file_left_alone(tmp_path):
    path = tmp_path / "box"
    old = b"From a  Mon Jan  1 00:00:00 2001\n\none\n\n"
    path.write_bytes(old)
    journal = tmp_path / "journal"
    journal.write_bytes(mbox_journal.MAGIC + b" 0 40 0 0000000001\nFrom a  Mon")  # cut short
    fd = os.open(path, os.O_RDWR)
    try:
        assert not mbox_journal.recover(str(journal), fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == old and not journal.exists()


def test_lock_timeout_raises_mailbox_in_use(tmp_path):
    path = tmp_path / "box"
    path.write_bytes(b"")
    lock = Path(str(path) + ".lock")
    lock.write_text(f"{os.getpid()}\n")
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(MailboxInUse), mbox_lock.locked(str(path), fd, write=True, timeout=0.2):
            pass
        with mbox_lock.locked(str(path), fd, write=False, timeout=0.2):
            pass  # readers do not need the dot-lock
    finally:
        os.close(fd)
        lock.unlink()


def test_parsing_a_window_at_a_time_finds_the_same_messages(tmp_path):
    """parse_fd reads a few MB at a time; cut anywhere, the messages come out the same."""
    data = (b"From a  Mon Jan  1 00:00:00 2001\nSubject: a\nContent-Length: 15\n\nFrom inside!\n\n\n\n"
            b"From b  Mon Jan  1 00:00:00 2001\r\nSubject: b\r\n\r\n" + b"long line\n" * 40 + b"\n"
            b"From c  Mon Jan  1 00:00:00 2001\nSubject: c\nContent-Length: 2\n\nlying\n\n"
            b"From d  Mon Jan  1 00:00:00 2001\nX-Keywords: k\n\n\n"
            b"From e  Tue Jan  2 00:00:00 2001\n\n")
    path = tmp_path / "box"
    path.write_bytes(data)
    whole = mbox_format.parse(data)
    assert len(whole) == 5
    fd = os.open(path, os.O_RDONLY)
    try:
        for window in (7, 33, 64, 100, 256, 4096):
            assert mbox_format.parse_fd(fd, 0, len(data), window) == whole, window
        assert mbox_format.parse_fd(fd, whole[2].from_off, len(data), 16) == whole[2:]
    finally:
        os.close(fd)


def test_a_large_message_goes_out_streamed_and_whole(c):
    """Over the streaming threshold: FETCH reads the body from the file in chunks."""
    body = b"".join(b"line %07d of a large body, From lines quoted\r\n" % i
                    for i in range(120_000))  # about 6 MB
    msg = b"Subject: big\r\n\r\n" + body
    c.append(msg)
    c.ok("s SELECT INBOX")
    out = c.session.receive(b"f FETCH 1 BODY.PEEK[]\r\n")
    head = b"* 1 FETCH (BODY[] {%d}\r\n" % len(msg)
    assert out.startswith(head) and out[len(head):len(head) + len(msg)] == msg
    assert out.endswith(b")\r\nf OK Fetch completed.\r\n")
    part = c.session.receive(b"g FETCH 1 BODY.PEEK[TEXT]<1000000.20>\r\n")
    assert body[1_000_000:1_000_020] in part
