"""The Maildir backend: files, flags in names, the index, \\Recent, the mailbox tree."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from imapsession.storage.base import (
    InvalidMailboxName,
    LimitExceeded,
    MailboxExists,
    MailboxNotEmpty,
    MessageGone,
    NoSuchMailbox,
    StorageError,
)
from imapsession.storage.maildir import MaildirStore, open_maildir

MSG = b"From: a@example.org\nSubject: hello\n\nbody line\n"
MSG_CRLF_SIZE = len(MSG) + MSG.count(b"\n")


def age_dirs(folder: Path, seconds: float = 60) -> None:
    """Make cur/ and new/ look old, so a scan records their mtimes as trustworthy."""
    past = time.time() - seconds
    for sub in ("cur", "new"):
        os.utime(folder / sub, (past, past))


def files(folder: Path, sub: str = "cur") -> list[str]:
    return sorted(os.listdir(folder / sub))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "Maildir"


@pytest.fixture
def store(root: Path):
    store = open_maildir(str(root))
    yield store
    store.close()


def reopen(root: Path) -> MaildirStore:
    return open_maildir(str(root))  # type: ignore[return-value]


# --- layout and APPEND ---------------------------------------------------------------


def test_open_creates_maildir_and_refuses_missing_when_asked(tmp_path: Path) -> None:
    with pytest.raises(NoSuchMailbox):
        open_maildir(str(tmp_path / "none"), create=False)
    open_maildir(str(tmp_path / "made")).close()
    assert sorted(os.listdir(tmp_path / "made")) == ["cur", "new", "tmp"]


def test_append_writes_flags_and_keywords_into_file_name(store, root: Path) -> None:
    flags = frozenset({"\\Seen", "\\Draft", "\\Flagged", "\\Answered", "\\Deleted", "zeta", "$Label1"})
    result = store.append("INBOX", MSG, flags, None)
    assert result.uid == 1
    [name] = files(root)
    assert name.endswith(":2,DFRSTab")  # ASCII order, keywords after system letters
    assert f",S={len(MSG)},W={MSG_CRLF_SIZE}:" in name
    assert (root / "dovecot-keywords").read_text() == "0 $Label1\n1 zeta\n"
    assert (root / "cur" / name).read_bytes() == MSG


def test_append_without_flags_goes_to_new(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset(), None)
    assert files(root) == [] and len(files(root, "new")) == 1
    assert ":" not in files(root, "new")[0]


def test_append_date_sets_mtime_and_internal_date(store) -> None:
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    store.append("INBOX", MSG, frozenset({"\\Seen"}), when)
    box = store.open_mailbox("INBOX", readonly=True)
    box.sync()
    meta = box.meta(1)
    assert meta.internal_date == when
    assert meta.internal_date.tzinfo is not None
    assert meta.size == MSG_CRLF_SIZE


def test_append_to_missing_mailbox_and_bad_flag(store, root: Path) -> None:
    with pytest.raises(NoSuchMailbox):
        store.append("nope", MSG, frozenset(), None)
    with pytest.raises(StorageError, match="Invalid system flag"):
        store.append("INBOX", MSG, frozenset({"\\Bogus"}), None)
    assert files(root, "tmp") == [] and files(root, "new") == []


def test_keywords_limit_is_26(store, root: Path) -> None:
    many = frozenset(f"kw{i}" for i in range(26))
    store.append("INBOX", MSG, many, None)
    before = (root / "dovecot-keywords").read_text()
    with pytest.raises(LimitExceeded) as caught:
        store.append("INBOX", MSG, frozenset({"one-too-many"}), None)
    assert caught.value.code == "LIMIT"
    assert (root / "dovecot-keywords").read_text() == before
    assert len(files(root)) == 1 and files(root, "tmp") == []
    [name] = files(root)
    assert name.endswith(":2," + "".join(chr(ord("a") + i) for i in range(26)))


def test_keywords_are_case_insensitive(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"Work"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    records, _ = box.store_flags([1], "add", frozenset({"WORK"}))
    assert records[0].flags == frozenset({"Work"})
    box.store_flags([1], "remove", frozenset({"work"}))
    assert box.sync().changed[0].flags == frozenset()
    assert (root / "dovecot-keywords").read_text() == "0 Work\n"


# --- spool ------------------------------------------------------------------------


def test_spool_streams_into_target_tmp_and_is_renamed(store, root: Path) -> None:
    store.create_mailbox("box")
    spool = store.new_spool("box")
    spool.write(b"Subject: x\r")
    spool.write(b"\n\r\n")  # CRLF split across chunks must not count twice
    spool.write(b"a\nb\n")
    assert spool.size == 18
    [tmp_name] = files(root / ".box", "tmp")
    inode = os.stat(root / ".box" / "tmp" / tmp_name).st_ino
    assert spool.read_all() == b"Subject: x\r\n\r\na\nb\n"
    result = store.append("box", spool, frozenset({"\\Seen"}), None)
    [name] = files(root / ".box")
    assert os.stat(root / ".box" / "cur" / name).st_ino == inode  # renamed, not copied
    assert ",S=18,W=20:2,S" in name
    assert files(root / ".box", "tmp") == []
    spool.discard()
    spool.discard()
    box = store.open_mailbox("box", readonly=True)
    box.sync()
    assert box.meta(result.uid).size == 20


def test_half_written_spool_is_invisible(store, root: Path) -> None:
    spool = store.new_spool("INBOX")
    spool.write(b"Subject: partial\n")
    box = store.open_mailbox("INBOX", readonly=False)
    assert box.sync().changed == ()
    assert files(root) == [] and files(root, "new") == []
    spool.discard()
    assert files(root, "tmp") == []


# --- flags -------------------------------------------------------------------------


def test_store_flags_modes_rename_file_and_bump_modseq(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    store.append("INBOX", MSG, frozenset(), None)
    box = store.open_mailbox("INBOX", readonly=False)
    first = box.sync()
    records, failed = box.store_flags([1, 2, 99], "add", frozenset({"\\Flagged", "todo"}))
    assert failed == [] and [r.uid for r in records] == [1, 2]
    assert all(r.modseq == first.highest_modseq + 1 for r in records)
    assert sorted(n.split(":2,")[1] for n in files(root)) == ["FSa", "Fa"]
    unchanged, _ = box.store_flags([1], "add", frozenset({"\\Seen"}))
    assert unchanged[0].modseq == records[0].modseq  # no change keeps its modseq
    box.store_flags([1], "set", frozenset({"\\Answered"}))
    box.store_flags([2], "remove", frozenset({"todo", "\\Flagged"}))
    later = box.sync(first.highest_modseq)
    assert {r.uid: r.flags for r in later.changed} == {1: {"\\Answered"}, 2: frozenset()}
    assert later.highest_modseq == first.highest_modseq + 3


def test_unchanged_since_refuses_newer_messages(store) -> None:
    for _ in range(2):
        store.append("INBOX", MSG, frozenset(), None)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    box.store_flags([2], "add", frozenset({"\\Seen"}))
    records, failed = box.store_flags(
        [1, 2], "add", frozenset({"\\Flagged"}), unchanged_since=state.highest_modseq
    )
    assert failed == [2] and [r.uid for r in records] == [1]


def test_read_only_mailbox_refuses_changes(store) -> None:
    store.append("INBOX", MSG, frozenset({"\\Deleted"}), None)
    box = store.open_mailbox("INBOX", readonly=True)
    box.sync()
    with pytest.raises(StorageError, match="read-only"):
        box.store_flags([1], "add", frozenset({"\\Seen"}))
    with pytest.raises(StorageError, match="read-only"):
        box.expunge()


def test_unknown_letters_like_passed_are_kept(store, root: Path) -> None:
    name = "1000.M1P1.host:2,PS"
    (root / "cur" / name).write_bytes(MSG)
    box = store.open_mailbox("INBOX", readonly=False)
    assert box.sync().changed[0].flags == {"\\Seen"}
    box.store_flags([1], "add", frozenset({"\\Answered"}))
    assert files(root) == ["1000.M1P1.host:2,PRS"]


def test_store_flags_after_another_program_renamed_the_file(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    age_dirs(root)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    [name] = files(root)
    stamp = os.stat(root / "cur").st_mtime_ns
    os.rename(root / "cur" / name, root / "cur" / name.replace(":2,S", ":2,FS"))
    os.utime(root / "cur", ns=(stamp, stamp))  # hide the rename from the mtime check
    records, _ = box.store_flags([1], "add", frozenset({"\\Draft"}))
    assert records[0].flags == {"\\Seen", "\\Draft"}
    assert files(root) == [name.replace(":2,S", ":2,DS")]
    assert box.read_message(1) == MSG


def test_visible_external_rename_is_merged_before_store(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    [name] = files(root)
    os.rename(root / "cur" / name, root / "cur" / name.replace(":2,S", ":2,FS"))
    records, _ = box.store_flags([1], "add", frozenset({"\\Draft"}))
    assert records[0].flags == {"\\Seen", "\\Draft", "\\Flagged"}


# --- delivery by other programs and persistence -------------------------------------


def deliver(root: Path, name: str, data: bytes = MSG, sub: str = "new") -> None:
    tmp = root / "tmp" / name
    tmp.write_bytes(data)
    os.rename(tmp, root / sub / name)


def test_delivery_into_new_gets_uid_and_moves_to_cur(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    deliver(root, "2000000000.M1P2.mx")
    examine = store.open_mailbox("INBOX", readonly=True)
    assert [r.uid for r in examine.sync().changed] == [1, 2]
    assert files(root, "new") == ["2000000000.M1P2.mx"]  # read-only leaves new/ alone
    later = box.sync(state.highest_modseq)
    assert [r.uid for r in later.changed] == [2]
    assert files(root, "new") == []
    assert "2000000000.M1P2.mx:2," in files(root)
    assert box.read_message(2) == MSG


def test_delivery_into_cur_with_flags(store, root: Path) -> None:
    (root / "cur" / "1500.M1P1.other:2,FS").write_bytes(MSG)
    box = store.open_mailbox("INBOX", readonly=False)
    assert box.sync().changed[0].flags == {"\\Flagged", "\\Seen"}


def test_external_flag_change_and_removal_are_seen(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    first, second = files(root)
    os.rename(root / "cur" / first, root / "cur" / first.replace(":2,S", ":2,RS"))
    os.unlink(root / "cur" / second)
    later = box.sync(state.highest_modseq)
    assert [(r.uid, r.flags) for r in later.changed] == [(1, {"\\Answered", "\\Seen"})]
    assert later.expunged == (2,)
    with pytest.raises(MessageGone):
        box.read_message(2)
    with pytest.raises(MessageGone):
        box.meta(2)


def test_uids_persist_across_sessions(store, root: Path) -> None:
    for _ in range(3):
        store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    box.store_flags([2], "add", frozenset({"\\Deleted"}))
    assert box.expunge() == [2]
    before = box.sync()
    store.close()
    again = reopen(root)
    after = again.open_mailbox("INBOX", readonly=False).sync()
    assert after.uidvalidity == before.uidvalidity
    assert [r.uid for r in after.changed] == [1, 3] and after.uidnext == 4
    assert again.append("INBOX", MSG, frozenset(), None).uid == 4
    again.close()


@pytest.mark.parametrize("damage", ["delete", "garbage"])
def test_lost_or_corrupt_index_rebuilds_without_losing_mail(root: Path, damage: str) -> None:
    store = open_maildir(str(root))
    store.append("INBOX", MSG, frozenset({"\\Seen", "alpha"}), None)
    store.append("INBOX", MSG, frozenset({"\\Flagged", "beta"}), None)
    store.create_mailbox("sub")
    store.append("sub", MSG, frozenset({"gamma"}), None)
    old = store.open_mailbox("INBOX", readonly=False).sync()
    store.close()
    for suffix in ("", "-wal", "-shm"):
        path = root / ("imapsession.index.sqlite" + suffix)
        if path.exists():
            path.unlink()
    if damage == "garbage":
        (root / "imapsession.index.sqlite").write_bytes(b"this is not a database" * 100)
    store = reopen(root)
    new = store.open_mailbox("INBOX", readonly=False).sync()
    # rebuilt from dovecot-uidlist: same UIDVALIDITY and UIDs, modseqs past the old ones
    assert new.uidvalidity == old.uidvalidity
    assert [r.uid for r in new.changed] == [r.uid for r in old.changed]
    assert new.highest_modseq > old.highest_modseq
    assert sorted(sorted(r.flags) for r in new.changed) == sorted(sorted(r.flags) for r in old.changed)
    sub = store.open_mailbox("sub", readonly=True).sync()
    assert [r.flags for r in sub.changed] == [frozenset({"gamma"})]
    store.close()


# --- \Recent -----------------------------------------------------------------------


def test_recent_belongs_to_exactly_one_session(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset(), None)
    examine = store.open_mailbox("INBOX", readonly=True)
    assert examine.sync().recent == {1}  # EXAMINE shows \Recent (as Dovecot) ...
    assert store.status("INBOX").recent == 1  # ... without claiming it
    first = store.open_mailbox("INBOX", readonly=False)
    state = first.sync()
    assert state.recent == {1}
    second = reopen(root).open_mailbox("INBOX", readonly=False)
    assert second.sync().recent == frozenset()
    assert store.status("INBOX").recent == 0
    deliver(root, "3000.M1P1.mx")
    assert second.sync(state.highest_modseq).recent == {2}
    assert first.sync(state.highest_modseq).recent == frozenset()


# --- sync cost ---------------------------------------------------------------------


def test_unchanged_sync_reads_no_directory(store, root: Path, monkeypatch) -> None:
    for _ in range(3):
        store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    age_dirs(root)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()  # this scan records the (old) mtimes

    def no_listdir(path):
        raise AssertionError(f"directory read: {path}")

    monkeypatch.setattr(os, "listdir", no_listdir)
    fresh = reopen(root).open_mailbox("INBOX", readonly=False)
    assert len(fresh.sync().changed) == 3
    again = box.sync(state.highest_modseq)
    assert again.changed == () and again.expunged == ()
    monkeypatch.undo()
    deliver(root, "4000.M1P1.mx")
    assert [r.uid for r in box.sync(state.highest_modseq).changed] == [4]


def test_recent_directory_mtime_forces_rescan(store, root: Path) -> None:
    box = store.open_mailbox("INBOX", readonly=True)
    box.sync()
    # Same second, same mtime granularity: a trusted mtime would hide this delivery.
    deliver(root, "5000.M1P1.mx")
    stamp = os.stat(root / "new").st_mtime_ns
    os.utime(root / "new", ns=(stamp, stamp))
    assert [r.uid for r in box.sync().changed] == [1]


# --- copy, move, expunge -----------------------------------------------------------


def test_copy_links_and_remaps_keywords(store, root: Path) -> None:
    store.create_mailbox("dst")
    store.append("dst", MSG, frozenset({"other"}), None)  # "other" takes letter a there
    when = datetime(2019, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    store.append("INBOX", MSG, frozenset({"\\Seen", "mine"}), when)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    with pytest.raises(MessageGone):  # one UID not there: nothing copied (RFC 3501 6.4.7)
        box.copy_to([1, 77], "dst")
    assert store.status("dst").messages == 1
    result = box.copy_to([1], "dst")
    assert result.source_uids == (1,) and result.target_uids == (2,)
    assert result.uidvalidity == store.status("dst").uidvalidity
    [src] = files(root)
    copied = [n for n in files(root / ".dst") if n.endswith(":2,Sb")]
    assert len(copied) == 1
    assert os.stat(root / "cur" / src).st_ino == os.stat(root / ".dst" / "cur" / copied[0]).st_ino
    assert (root / ".dst" / "dovecot-keywords").read_text() == "0 other\n1 mine\n"
    dst = store.open_mailbox("dst", readonly=False)
    state = dst.sync()
    assert {r.uid: r.flags for r in state.changed}[2] == {"\\Seen", "mine"}
    assert dst.meta(2).internal_date == when
    assert state.recent == {1, 2}
    with pytest.raises(NoSuchMailbox):
        box.copy_to([1], "missing")


def test_copy_into_same_mailbox(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset({"k"}), None)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    assert box.copy_to([1], "INBOX").target_uids == (2,)
    assert [r.flags for r in box.sync().changed] == [{"k"}, {"k"}]


def test_move_expunges_regardless_of_deleted(store, root: Path) -> None:
    store.create_mailbox("dst")
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    store.append("INBOX", MSG, frozenset(), None)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    result = box.move_to([1], "dst")
    assert result.target_uids == (1,)
    later = box.sync(state.highest_modseq)
    assert later.expunged == (1,)
    assert len(files(root)) + len(files(root, "new")) == 1
    assert store.status("dst").messages == 1


def test_expunge_only_deleted_and_only_given_uids(store, root: Path) -> None:
    for flags in ({"\\Deleted"}, set(), {"\\Deleted"}):
        store.append("INBOX", MSG, frozenset(flags), None)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    assert box.expunge([3, 2]) == [3]
    assert box.expunge() == [1]
    later = box.sync(state.highest_modseq)
    assert later.expunged == (1, 3)
    assert [r.uid for r in box.sync().changed] == [2]
    assert len(files(root)) + len(files(root, "new")) == 1


def test_reader_follows_rename_done_by_other_session(store, root: Path) -> None:
    store.append("INBOX", MSG, frozenset(), None)
    reader = store.open_mailbox("INBOX", readonly=True)
    reader.sync()
    writer = reopen(root).open_mailbox("INBOX", readonly=False)
    writer.sync()  # moves new/ -> cur/
    writer.store_flags([1], "add", frozenset({"\\Seen"}))
    assert reader.read_message(1) == MSG
    with reader.open_message(1) as handle:
        assert handle.read() == MSG
    writer.store_flags([1], "add", frozenset({"\\Deleted"}))
    writer.expunge()
    with pytest.raises(MessageGone):
        reader.read_message(1)


def test_meta_size_comes_from_name_without_reading(store, root: Path) -> None:
    (root / "cur" / "6000.M1P1.h,S=5,W=12345:2,S").write_bytes(b"12345")
    (root / "cur" / "6001.M1P1.h:2,S").write_bytes(b"a\nb\r\nc\n")
    box = store.open_mailbox("INBOX", readonly=True)
    box.sync()
    assert box.meta(1).size == 12345  # Dovecot's virtual size, trusted like Dovecot does
    assert box.meta(2).size == 9
    box.close()
    again = reopen(root).open_mailbox("INBOX", readonly=True)
    again.sync()
    os.unlink(root / "cur" / "6001.M1P1.h:2,S")
    (root / "cur" / "6001.M1P1.h:2,S").write_bytes(b"different length")
    assert again.meta(2).size == 9  # cached in the index


# --- mailbox tree ------------------------------------------------------------------


def test_create_list_and_implied_parents(store, root: Path) -> None:
    store.create_mailbox("a/b/c")
    store.create_mailbox("x.y")
    with pytest.raises(MailboxExists):
        store.create_mailbox("a/b/c")
    with pytest.raises(MailboxExists):
        store.create_mailbox("inbox")
    with pytest.raises(InvalidMailboxName):
        store.create_mailbox("../etc")
    assert (root / ".a.b.c" / "maildirfolder").exists()
    assert (root / ".x&AC4-y" / "cur").is_dir()
    listing = {m.name: (m.selectable, m.has_children) for m in store.list_mailboxes()}
    assert listing == {
        "INBOX": (True, False),
        "a": (False, True),
        "a/b": (False, True),
        "a/b/c": (True, False),
        "x.y": (True, False),
    }
    assert store.list_mailboxes()[0].name == "INBOX"


def test_delete_rules(store, root: Path) -> None:
    with pytest.raises(StorageError, match="INBOX"):
        store.delete_mailbox("inbox")
    store.create_mailbox("p")
    store.create_mailbox("p/q")
    store.append("p", MSG, frozenset(), None)
    store.delete_mailbox("p")  # has children: messages go, name stays as \Noselect
    listing = {m.name: m for m in store.list_mailboxes()}
    assert not listing["p"].selectable and listing["p"].has_children
    with pytest.raises(MailboxNotEmpty):
        store.delete_mailbox("p")
    with pytest.raises(NoSuchMailbox):
        store.open_mailbox("p", readonly=True)
    store.delete_mailbox("p/q")
    with pytest.raises(NoSuchMailbox):
        store.delete_mailbox("p")
    assert [m.name for m in store.list_mailboxes()] == ["INBOX"]
    assert not any(e.startswith("..") for e in os.listdir(root) if e != "..")


def test_recreated_mailbox_gets_new_uidvalidity(store) -> None:
    store.create_mailbox("r")
    store.append("r", MSG, frozenset(), None)
    old = store.status("r").uidvalidity
    store.delete_mailbox("r")
    store.create_mailbox("r")
    status = store.status("r")
    assert status.uidvalidity > old and status.messages == 0 and status.uidnext == 1


def test_rename_moves_children_and_keeps_uids(store, root: Path) -> None:
    store.create_mailbox("old")
    store.create_mailbox("old/kid")
    store.create_mailbox("taken")
    store.append("old", MSG, frozenset({"\\Seen"}), None)
    store.append("old/kid", MSG, frozenset(), None)
    before = store.status("old")
    with pytest.raises(MailboxExists):
        store.rename_mailbox("old", "taken")
    with pytest.raises(NoSuchMailbox):
        store.rename_mailbox("ghost", "x")
    store.rename_mailbox("old", "new.name")
    names = {m.name for m in store.list_mailboxes()}
    assert names == {"INBOX", "new.name", "new.name/kid", "taken"}
    after = store.status("new.name")
    assert (after.uidvalidity, after.messages, after.uidnext) == (
        before.uidvalidity,
        1,
        before.uidnext,
    )
    assert store.status("new.name/kid").messages == 1
    assert (root / ".new&AC4-name.kid" / "cur").is_dir()


def test_rename_inbox_moves_messages(store, root: Path) -> None:
    store.create_mailbox("INBOX/child")
    store.append("INBOX", MSG, frozenset({"\\Seen", "kw"}), None)
    store.append("INBOX", MSG, frozenset(), None)
    store.rename_mailbox("INBOX", "archive")
    assert store.status("INBOX").messages == 0
    moved = store.open_mailbox("archive", readonly=True).sync()
    assert sorted(r.flags for r in moved.changed) == sorted([frozenset(), {"\\Seen", "kw"}])
    assert {m.name for m in store.list_mailboxes()} == {"INBOX", "INBOX/child", "archive"}
    with pytest.raises(MailboxExists):
        store.rename_mailbox("INBOX", "archive")


def test_subscriptions_in_dovecot_format(store, root: Path) -> None:
    store.subscribe("foo")
    store.subscribe("inbox")
    store.subscribe("foo/bar.baz")
    store.subscribe("foo")
    assert (root / "subscriptions").read_bytes() == b"V\t2\n\nfoo\nINBOX\nfoo\tbar&AC4-baz\n"
    assert store.subscriptions() == {"foo", "INBOX", "foo/bar.baz"}
    store.unsubscribe("foo")
    assert store.subscriptions() == {"INBOX", "foo/bar.baz"}
    with pytest.raises(InvalidMailboxName):
        store.subscribe("a//b")


def test_reads_dovecot_written_subscriptions(store, root: Path) -> None:
    # Byte for byte what Dovecot 2.3.19 wrote after SUBSCRIBE foo, INBOX, foo.bar, &ANw-n&AO8-.
    (root / "subscriptions").write_bytes(b"V\t2\n\nfoo\nINBOX\nfoo\tbar\n&ANw-n&AO8-\n")
    assert store.subscriptions() == {"foo", "INBOX", "foo/bar", "Ünï"}


def test_status_counts(store) -> None:
    store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    store.append("INBOX", MSG, frozenset(), None)
    status = store.status("INBOX")
    assert (status.messages, status.unseen, status.uidnext, status.recent) == (2, 1, 3, 2)
    with pytest.raises(NoSuchMailbox):
        store.status("missing")


def test_invalid_keywords_are_refused(store, root: Path) -> None:
    for bad in ("two words", "new\nline", "par(en", "quo\"te", "bra]ce"):
        with pytest.raises(StorageError, match="Invalid keyword"):
            store.append("INBOX", MSG, frozenset({bad}), None)
    assert not (root / "dovecot-keywords").exists()


def direct_state(root: Path) -> list[tuple[int, frozenset[str], int]]:
    import sqlite3

    db = sqlite3.connect(root / "imapsession.index.sqlite")
    rows = db.execute(
        "SELECT uid, flags, modseq FROM message JOIN mailbox ON mailbox.id = mailbox_id"
        " WHERE mailbox.name = 'INBOX' ORDER BY uid"
    ).fetchall()
    db.close()
    return [(u, frozenset(f.split()), m) for u, f, m in rows]


@pytest.mark.parametrize("changes", [3, 400])
def test_full_sync_from_snapshot_plus_changes_matches_rows(root: Path, changes: int) -> None:
    from imapsession.storage.changes import SNAPSHOT_SLACK

    store = open_maildir(str(root))
    for i in range(changes + 5):
        store.append("INBOX", MSG, frozenset({"\\Seen"} if i % 2 else set()), None)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()  # writes the snapshot
    uids = [r.uid for r in box.sync().changed]
    box.store_flags(uids[: changes // 2 + 1], "add", frozenset({"kw", "\\Deleted"}))
    box.expunge(uids[:2])
    for _ in range(changes // 2):
        store.append("INBOX", MSG, frozenset({"\\Draft"}), None)
    expected = direct_state(root)
    for _ in range(2):  # the second round reads a snapshot rewritten when stale
        fresh = reopen(root)
        got = fresh.open_mailbox("INBOX", readonly=False).sync().changed
        assert [(r.uid, r.flags, r.modseq) for r in got] == expected
        fresh.close()
    import sqlite3

    db = sqlite3.connect(root / "imapsession.index.sqlite")
    (snap_modseq,) = db.execute("SELECT modseq FROM snapshot").fetchone()
    (highest,) = db.execute("SELECT highest_modseq FROM mailbox WHERE name = 'INBOX'").fetchone()
    db.close()
    stale = changes > SNAPSHOT_SLACK
    assert (snap_modseq == highest) == stale  # rewritten only when far behind
    store.close()


def test_killed_writer_leaves_only_whole_messages(root: Path) -> None:
    import signal

    open_maildir(str(root)).close()
    chunk = b"x" * 65536 + b"\n"
    pid = os.fork()
    if pid == 0:  # child: append 1 MiB messages through spools until killed
        try:
            store = open_maildir(str(root))
            while True:
                spool = store.new_spool("INBOX")
                spool.write(b"Subject: big\n\n")
                for _ in range(16):
                    spool.write(chunk)
                spool.write(b"END\n")
                store.append("INBOX", spool, frozenset({"\\Seen"}), None)
        finally:
            os._exit(0)
    time.sleep(0.7)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    whole = [f for f in files(root) + files(root, "new")]
    assert whole, "the writer stored nothing before it was killed"
    for sub in ("cur", "new"):
        for name in files(root, sub):
            assert (root / sub / name).read_bytes().endswith(b"END\n"), name
    store = reopen(root)
    state = store.open_mailbox("INBOX", readonly=False).sync()
    assert len(state.changed) == len(whole)  # a file linked before the commit is adopted
    store.close()


def test_lost_index_never_reuses_a_uidvalidity(root: Path) -> None:
    store = open_maildir(str(root))
    for i in range(5):  # five in one second run ahead of the clock
        store.create_mailbox(f"m{i}")
    old = [store.status(f"m{i}").uidvalidity for i in range(5)]
    store.close()
    os.unlink(root / "imapsession.index.sqlite")
    store = open_maildir(str(root))
    new = [store.status(f"m{i}").uidvalidity for i in range(5)]
    assert new == old  # each folder's dovecot-uidlist keeps its UIDVALIDITY
    store.close()
    os.unlink(root / "imapsession.index.sqlite")
    for i in range(5):  # and without it too, a lost index never repeats a value
        os.unlink(root / f".m{i}" / "dovecot-uidlist")
    store = open_maildir(str(root))
    new = [store.status(f"m{i}").uidvalidity for i in range(5)]
    assert min(new) > max(old)
    assert len(set(new)) == 5
    store.close()


def test_copy_and_append_fall_back_to_copying_across_file_systems(
    store, root: Path, monkeypatch
) -> None:
    import errno as errno_module

    real_link = os.link

    def link_within_folder_only(src, dst):
        # Pretend every folder is its own file system: only tmp/ -> cur|new/ of one folder links.
        if Path(src).parent.parent != Path(dst).parent.parent:
            raise OSError(errno_module.EXDEV, "Invalid cross-device link")
        real_link(src, dst)

    store.create_mailbox("dst")
    when = datetime(2018, 1, 1, tzinfo=timezone.utc)
    store.append("INBOX", MSG, frozenset({"\\Seen", "kw"}), when)
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    monkeypatch.setattr(os, "link", link_within_folder_only)
    spool = store.new_spool("INBOX")  # spooled in INBOX's tmp/, appended to dst
    spool.write(MSG)
    appended = store.append("dst", spool, frozenset(), None)
    copied = box.copy_to([1], "dst")
    monkeypatch.undo()
    dst = root / ".dst"
    assert files(root, "tmp") == [] and files(dst, "tmp") == []
    [src_name] = files(root)
    [copy_name] = files(dst)
    assert os.stat(root / "cur" / src_name).st_ino != os.stat(dst / "cur" / copy_name).st_ino
    assert copy_name.endswith(":2,Sa")
    target = store.open_mailbox("dst", readonly=True)
    target.sync()
    assert target.read_message(appended.uid) == MSG
    assert target.read_message(copied.target_uids[0]) == MSG
    assert target.meta(copied.target_uids[0]).internal_date == when
