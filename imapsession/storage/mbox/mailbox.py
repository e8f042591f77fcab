"""An mbox selected (or examined) by one session: sync, reading, STORE, EXPUNGE, COPY."""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterable
from functools import partial
from typing import BinaryIO

import imapsession.storage.mbox.format as fmt
import imapsession.storage.mbox.journal as journal
from imapsession.storage.base import (
    GONE_TEXT,
    SYSTEM_FLAGS,
    CopyResult,
    Mailbox,
    MessageGone,
    MessageMeta,
    MessageRecord,
    NoSuchMailbox,
    StorageError,
    StoreMode,
    SyncResult,
)
from imapsession.storage.cache import MessageCache
from imapsession.storage.changes import (
    changes_since,
    claim_recent,
    save_snapshot,
)
from imapsession.storage.flags import check_flags, flags_from_text, flags_to_text, stored_flags
from imapsession.storage.mbox.expunge import remove_uids
from imapsession.storage.mbox.folder import (
    FIRST_RECENT,
    ID,
    INO,
    MODSEQ,
    MTIME,
    SIZE,
    UIDNEXT,
    UIDVALIDITY,
    Folder,
)
from imapsession.storage.mbox.lock import locked
from imapsession.storage.mbox.move_intent import clear_intent, intent_path, write_intent
from imapsession.storage.mbox.rewrite import reserved_block, rewrite_tail, update_base
from imapsession.storage.mbox.save import append_messages
from imapsession.storage.mbox.stream import MessageStream
from imapsession.storage.meta import crlf_size, datetime_from_ns

_EMPTY: frozenset[str] = frozenset()


class MboxMailbox(Mailbox):
    """One selected (or examined) mbox of one session."""

    def __init__(self, folder: Folder, readonly: bool):
        self._folder = folder
        self._store = folder.store
        self.name = folder.name
        self.readonly = readonly
        self._box_id: int | None = None
        self._cache = MessageCache(lambda: self._store.index.db, self._id)
        self._fd: int | None = None  # read-only, kept while the file is the same inode
        self._reading: tuple[tuple[int, int, int], dict[int, tuple]] | None = None

    def _row(self) -> tuple:
        folder = self._folder
        row = folder.row()
        try:
            st = os.stat(folder.path)
        except FileNotFoundError:
            if folder.name != "INBOX":
                raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}") from None
            st = None
        if st is not None and folder.fresh(row, st) and not os.path.exists(
                folder.journal_path(st)) and not os.path.exists(
                intent_path(self._store.state_dir)):  # a MOVE to finish: under the lock
            return row  # type: ignore[return-value]
        with self._store.index.write() as db, folder.open(write=False) as fd:
            return folder.refresh(db, fd)

    def _id(self) -> int:
        if self._box_id is None:
            self._box_id = self._row()[ID]
        return self._box_id

    def sync(self, since_modseq: int = 0) -> SyncResult:
        self._flush_cache()
        row = self._row()
        self._box_id = box_id = row[ID]
        recent: frozenset[int] = _EMPTY  # type: ignore[assignment]
        if not self.readonly and row[FIRST_RECENT] < row[UIDNEXT]:
            recent = claim_recent(self._store.index, self.name, box_id)
        db = self._store.index.db
        db.execute("BEGIN")
        try:
            row = self._folder.row()
            uidvalidity, uidnext, highest, first_recent = row[1], row[2], row[3], row[4]
            changed, expunged, stale = changes_since(db, box_id, since_modseq, highest)
            keywords = tuple(self._folder.keywords(box_id))
        finally:
            db.execute("COMMIT")
        if stale:
            save_snapshot(self._store.index, box_id, highest, changed)
        if self.readonly:
            recent = frozenset(r.uid for r in changed if r.uid >= first_recent)
        return SyncResult(uidvalidity=uidvalidity, uidnext=uidnext, highest_modseq=highest,
                          changed=changed, expunged=expunged, recent=recent, keywords=keywords)

    # reading -------------------------------------------------------------------------

    def _reader(self, uid: int) -> tuple[int, tuple[int, int, int, int]]:
        """A read-only descriptor on the file and the message's offsets.

        While the file's inode, mtime and size are those the offsets were loaded
        for, one stat is the whole cost (every write of ours or another program's
        moves the mtime); otherwise the index is brought up to date first and the
        offsets of the whole mailbox are read again in one query.
        """
        st = os.stat(self._folder.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._reading is None or self._reading[0] != stamp:
            row = self._row()  # follows a rewrite (or finishes a journal) first
            spans = {u: tuple(rest) for u, *rest in self._store.index.db.execute(
                "SELECT uid, hdr_off, hdr_end, body_off, end_off FROM mbox_span"
                " WHERE mailbox_id = ?", (row[ID],))}
            if self._fd is None or self._reading is None or self._reading[0][0] != row[INO]:
                self._close_fd()
                self._fd = os.open(self._folder.path, os.O_RDONLY)
            self._reading = ((row[INO], row[MTIME], row[SIZE]), spans)
        span = self._reading[1].get(uid)
        if span is None:
            raise MessageGone(f"Message UID {uid} has been expunged")
        assert self._fd is not None
        return self._fd, span  # type: ignore[return-value]

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read_message(self, uid: int) -> bytes:
        fd, (hdr_off, hdr_end, body_off, end_off) = self._reader(uid)
        with locked(self._folder.path, fd, write=False):
            header = os.pread(fd, hdr_end - hdr_off, hdr_off)
            body = os.pread(fd, end_off - body_off, body_off)
        return fmt.visible_header(header) + (b"\n" if body_off > hdr_end else b"") + body

    def open_message(self, uid: int) -> BinaryIO:
        fd, (hdr_off, hdr_end, body_off, end_off) = self._reader(uid)
        with locked(self._folder.path, fd, write=False):
            head = fmt.visible_header(os.pread(fd, hdr_end - hdr_off, hdr_off)) + (
                b"\n" if body_off > hdr_end else b"")
        stream = MessageStream(self._folder.path, os.dup(fd), head, body_off, end_off,
                                os.fstat(fd).st_ino)
        return io.BufferedReader(stream, 1 << 16)  # type: ignore[return-value]

    def meta(self, uid: int) -> MessageMeta:
        got = self._store.index.db.execute(
            "SELECT size, internal_date FROM message WHERE mailbox_id = ? AND uid = ?",
            (self._id(), uid)).fetchone()
        if got is None:
            raise MessageGone(f"Message UID {uid} has been expunged")
        size, date = got
        if size is None:
            size = crlf_size(self.read_message(uid))
        return MessageMeta(size, datetime_from_ns(date))

    def cached(self, uid: int, field: str) -> bytes | None:
        return self._cache.get(uid, field)

    def remember(self, uid: int, field: str, value: bytes) -> None:
        """Kept like the Maildir backend does: a message's bytes as served never change
        (flags live in hidden headers), so an ENVELOPE stays true across rewrites."""
        if self._cache.put(uid, field, value):
            self._flush_cache()

    def _flush_cache(self) -> None:
        if not self._cache.pending:
            return
        with self._store.index.write() as db:
            self._cache.write_pending(db)

    # changing ------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.readonly:
            raise StorageError("Mailbox is read-only")

    def store_flags(self, uids: Iterable[int], mode: StoreMode, flags: frozenset[str],
                    unchanged_since: int | None = None,
                    ) -> tuple[list[MessageRecord], list[int]]:
        self._writable()
        wanted = check_flags(flags)
        folder = self._folder
        done: list[MessageRecord] = []
        failed: list[int] = []
        with self._store.index.write() as db, folder.open(write=True) as fd:
            row = folder.refresh(db, fd)
            box_id, modseq = row[ID], row[MODSEQ] + 1
            added = mode != "remove" and folder.define_keywords(
                db, box_id, sorted(f for f in wanted if f not in SYSTEM_FLAGS))
            wanted = folder.spelling(box_id, wanted)
            changes: dict[int, frozenset[str]] = {}
            for uid in sorted(set(uids)):
                msg = db.execute(
                    "SELECT m.flags, m.modseq, s.meta_off, s.meta_len FROM message m JOIN"
                    " mbox_span s ON s.mailbox_id = m.mailbox_id AND s.uid = m.uid"
                    " WHERE m.mailbox_id = ? AND m.uid = ?", (box_id, uid)).fetchone()
                if msg is None:
                    continue
                flag_text, old_modseq, meta_off, meta_len = msg
                old = flags_from_text(flag_text)
                if unchanged_since is not None and old_modseq > unchanged_since:
                    failed.append(uid)
                    continue
                new = stored_flags(mode, old, wanted)
                if new == old:
                    done.append(MessageRecord(uid, old, old_modseq))
                    continue
                changes[uid] = new
                done.append(MessageRecord(uid, new, modseq))
            if added and changes:
                # declared before any message carries it: a kill in between leaves each
                # message's flags all old or all new, never a keyword the file does not declare
                update_base(folder, db, fd, folder.row())
                os.fsync(fd)
                journal.fault("store-declared")
            misfits = []
            for uid, new in changes.items():
                meta_off, meta_len = db.execute(
                    "SELECT meta_off, meta_len FROM mbox_span WHERE mailbox_id = ? AND uid = ?",
                    (box_id, uid)).fetchone()
                try:
                    if meta_off < 0:
                        raise ValueError("no reserved space")
                    block = reserved_block(folder, fd, row, uid, meta_off, meta_len, new)
                except ValueError:
                    misfits.append(uid)
                    continue
                os.pwrite(fd, block, meta_off)
            if misfits:
                rewrite_tail(folder, db, fd, row, drop=set(), flags=changes, start_uid=min(misfits))
            if changes:
                journal.fault("store-written")
                os.fsync(fd)
                db.executemany(
                    "UPDATE message SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
                    [(flags_to_text(new), modseq, box_id, uid) for uid, new in changes.items()])
                db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?",
                           (modseq, box_id))
            if added and not changes:
                update_base(folder, db, fd, folder.row())
                os.fsync(fd)
            folder.stamp(db, fd, box_id)
        return done, failed

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        self._writable()
        with self._store.index.write() as db, self._folder.open(write=True) as fd:
            row = self._folder.refresh(db, fd)
            chosen = [uid for (uid,) in db.execute(
                "SELECT uid FROM message WHERE mailbox_id = ? AND instr(flags, '\\Deleted') > 0",
                (row[ID],))]
            if uids is not None:
                limit = set(uids)
                chosen = [uid for uid in chosen if uid in limit]
            return self._remove(db, fd, row, chosen)

    def _remove(self, db: sqlite3.Connection, fd: int, row: tuple, uids: list[int]) -> list[int]:
        return remove_uids(self._folder, db, fd, row, uids)

    def copy_to(self, uids: Iterable[int], target: str) -> CopyResult:
        return self._copy(uids, target, move=False)

    def move_to(self, uids: Iterable[int], target: str) -> CopyResult:
        self._writable()
        return self._copy(uids, target, move=True)

    def _copy(self, uids: Iterable[int], target: str, move: bool) -> CopyResult:
        """All or nothing (RFC 3501 6.4.7, RFC 2180 4.4): every source is read, inside the
        write transaction, before the target is touched; one gone copies none. The
        ``MessageGone`` is raised after the transaction commits what following a rewrite
        changed, so the index keeps agreeing with the file. A MOVE's copies are announced
        by an intent record first, so that a kill between the two files is completed
        (``move_intent``)."""
        dest = self._store.existing_folder(target)
        with self._store.index.write() as db:
            row = self._row()
            items, sources = self._sources(db, row, uids)
            if items is None:
                result = None
            elif not items:
                dest_row = dest.row()
                if dest_row is None:
                    with dest.open(write=False) as fd:
                        dest_row = dest.refresh(db, fd)
                result = CopyResult(dest_row[UIDVALIDITY], (), ())
            else:
                state = self._store.state_dir
                record = partial(write_intent, state, self._store.modes, self.name, sources,
                                 dest.name) if move else None
                uidvalidity, new_uids = append_messages(dest, db, items, record)
                if move:
                    with self._folder.open(write=True) as fd:
                        row = self._folder.refresh(db, fd)
                        self._remove(db, fd, row, sources)
                    clear_intent(state)  # both files final: the commit follows
                result = CopyResult(uidvalidity, tuple(sources), tuple(new_uids))
        if result is None:
            raise MessageGone(GONE_TEXT)
        return result

    def _sources(self, db: sqlite3.Connection, row: tuple,
                 uids: Iterable[int]) -> tuple[list | None, list[int]]:
        """(message, flags, date) per UID read from the file, or ``None`` if any is gone."""
        items, sources = [], []
        for uid in sorted(set(uids)):
            got = db.execute("SELECT flags, internal_date FROM message WHERE mailbox_id = ?"
                             " AND uid = ?", (row[ID], uid)).fetchone()
            if got is None:
                return None, []
            try:
                raw = self.read_message(uid)
            except MessageGone:
                return None, []
            items.append((raw, flags_from_text(got[0]), got[1]))
            sources.append(uid)
        return items, sources

    def close(self) -> None:
        self._flush_cache()
        self._close_fd()
        self._reading = None
