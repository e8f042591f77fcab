"""A Maildir mailbox selected (or examined) by one session: sync, reading, sizes, STORE."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from typing import BinaryIO

from imapsession.storage.base import (
    GONE_TEXT,
    SYSTEM_FLAGS,
    CopyResult,
    Mailbox,
    MessageGone,
    MessageMeta,
    MessageRecord,
    StorageError,
    StoreMode,
    SyncResult,
)
from imapsession.storage.cache import MessageCache
from imapsession.storage.changes import (
    changes_since,
    claim_recent,
    save_snapshot,
    write_tombstone,
)
from imapsession.storage.flags import check_flags, flags_from_text, flags_to_text, stored_flags
from imapsession.storage.maildir.copy import copy_messages, remove_messages
from imapsession.storage.maildir.filenames import split_name, vsize_from_base
from imapsession.storage.maildir.folder import Folder
from imapsession.storage.maildir.save import fsync_dir
from imapsession.storage.meta import crlf_size, datetime_from_ns

_CACHE_FLUSH = 256
_EMPTY: frozenset[str] = frozenset()


class MaildirMailbox(Mailbox):
    """One selected (or examined) mailbox of one session."""

    def __init__(self, folder: Folder, readonly: bool):
        self._folder = folder
        self._store = folder.store
        self.name = folder.name
        self.readonly = readonly
        self._box_id: int | None = None
        self._pending_cache: dict[int, tuple[int, int]] = {}
        self._known_meta: dict[int, tuple[int, int]] | None = None
        self._cache = MessageCache(lambda: self._store.index.db, self._id)

    # sync ---------------------------------------------------------------------------

    def _row(self) -> tuple:
        """The mailbox row, rescanning first when the directories changed."""
        folder = self._folder
        row = folder.row()
        if folder.fresh(row):
            assert row is not None
            return row
        with self._store.index.write() as db:
            return folder.ensure(db, move_new=not self.readonly)

    def sync(self, since_modseq: int = 0) -> SyncResult:
        self._flush_cache()
        row = self._row()
        self._box_id = box_id = row[0]
        recent: frozenset[int] = _EMPTY  # type: ignore[assignment]
        if not self.readonly and row[4] < row[2]:
            recent = claim_recent(self._store.index, self.name, box_id)
        db = self._store.index.db
        db.execute("BEGIN")  # one snapshot for row, messages and tombstones
        try:
            row = self._folder.row()
            assert row is not None
            uidvalidity, uidnext, highest, first_recent = row[1], row[2], row[3], row[4]
            changed, expunged, stale = changes_since(db, box_id, since_modseq, highest)
        finally:
            db.execute("COMMIT")
        if stale:
            save_snapshot(self._store.index, box_id, highest, changed)
        if self.readonly:
            # EXAMINE shows \Recent without claiming it (RFC 3501 2.3.2; as Dovecot does)
            recent = frozenset(r.uid for r in changed if r.uid >= first_recent)
        self._folder.keywords.load()
        return SyncResult(
            uidvalidity=uidvalidity,
            uidnext=uidnext,
            highest_modseq=highest,
            changed=changed,
            expunged=expunged,
            recent=recent,
            keywords=self._folder.keywords.defined(),
        )

    def _id(self) -> int:
        if self._box_id is None:
            self._box_id = self._row()[0]
        return self._box_id

    # reading ------------------------------------------------------------------------

    def _message_row(self, uid: int) -> tuple:
        row = self._store.index.db.execute(
            "SELECT filename, size, internal_date, base FROM message"
            " WHERE mailbox_id = ? AND uid = ?",
            (self._id(), uid),
        ).fetchone()
        if row is None:
            raise MessageGone(f"Message UID {uid} has been expunged")
        return row

    def _open_file(self, uid: int) -> tuple[BinaryIO, tuple]:
        """Open the message file, following a rename by another process (once)."""
        for attempt in range(3):
            row = self._message_row(uid)
            try:
                return open(os.path.join(self._folder.path, row[0]), "rb"), row
            except FileNotFoundError:
                if attempt == 1:  # the row did not move on its own: rescan under the lock
                    with self._store.index.write() as db:
                        mailbox = self._folder.row()
                        if mailbox is not None:
                            self._folder.scan(db, mailbox, move_new=not self.readonly)
        raise MessageGone(f"Message UID {uid} has been expunged")

    def read_message(self, uid: int) -> bytes:
        handle, _ = self._open_file(uid)
        with handle:
            return handle.read()

    def open_message(self, uid: int) -> BinaryIO:
        return self._open_file(uid)[0]

    def meta(self, uid: int) -> MessageMeta:
        pending = self._pending_cache.get(uid)
        if pending is not None:
            return MessageMeta(pending[0], datetime_from_ns(pending[1]))
        if self._known_meta is None:
            # one query for the whole mailbox: FETCH 1:* RFC822.SIZE must not cost a query
            # per message; a message's size and date never change, so this never goes stale
            self._known_meta = {
                uid: (size, date) for uid, size, date in self._store.index.db.execute(
                    "SELECT uid, size, internal_date FROM message WHERE mailbox_id = ?"
                    " AND size IS NOT NULL AND internal_date IS NOT NULL", (self._id(),))
            }
        known = self._known_meta.get(uid)
        if known is not None:
            return MessageMeta(known[0], datetime_from_ns(known[1]))
        row = self._message_row(uid)
        size, date = row[1], row[2]
        if size is None or date is None:
            handle, row = self._open_file(uid)
            with handle:
                st = os.fstat(handle.fileno())
                date = st.st_mtime_ns
                size = vsize_from_base(row[3])
                if size is None:
                    size, last = 0, -1
                    while chunk := handle.read(1 << 20):
                        size += crlf_size(chunk, last)
                        last = chunk[-1]
            self._pending_cache[uid] = (size, date)
            if len(self._pending_cache) >= _CACHE_FLUSH:
                self._flush_cache()
        return MessageMeta(size, datetime_from_ns(date))

    def cached(self, uid: int, field: str) -> bytes | None:
        return self._cache.get(uid, field)

    def remember(self, uid: int, field: str, value: bytes) -> None:
        if self._cache.put(uid, field, value):
            self._flush_cache()

    def _flush_cache(self) -> None:
        if not self._pending_cache and not self._cache.pending:
            return
        items = [(s, d, self._id(), uid) for uid, (s, d) in self._pending_cache.items()]
        self._pending_cache.clear()
        with self._store.index.write() as db:
            db.executemany(
                "UPDATE message SET size = ?, internal_date = ? WHERE mailbox_id = ? AND uid = ?",
                items,
            )
            self._cache.write_pending(db)

    # changing -----------------------------------------------------------------------

    def _writable(self) -> None:
        if self.readonly:
            raise StorageError("Mailbox is read-only")

    def store_flags(
        self,
        uids: Iterable[int],
        mode: StoreMode,
        flags: frozenset[str],
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageRecord], list[int]]:
        self._writable()
        wanted = check_flags(flags)
        folder = self._folder
        done: list[MessageRecord] = []
        failed: list[int] = []
        with self._store.index.write() as db:
            row = folder.ensure(db, move_new=True)
            box_id, modseq = row[0], row[3] + 1
            if mode != "remove":
                folder.keywords.ensure(f for f in wanted if f not in SYSTEM_FLAGS)
            else:
                folder.keywords.load()
            wanted = frozenset(
                f if f in SYSTEM_FLAGS else folder.keywords.spelling(f) for f in wanted
            )
            bumped = False
            for uid in sorted(set(uids)):
                msg = db.execute(
                    "SELECT base, filename, flags, modseq FROM message"
                    " WHERE mailbox_id = ? AND uid = ?",
                    (box_id, uid),
                ).fetchone()
                if msg is None:
                    continue
                base, filename, flag_text, old_modseq = msg
                old = flags_from_text(flag_text)
                if unchanged_since is not None and old_modseq > unchanged_since:
                    failed.append(uid)
                    continue
                new = stored_flags(mode, old, wanted)
                if new == old:
                    done.append(MessageRecord(uid, old, old_modseq))
                    continue
                keep = split_name(filename.split("/", 1)[1])[1]
                target = f"cur/{base}:2,{folder.keywords.letters(new, keep)}"
                moved = self._rename(filename, target, base)
                if moved is None:  # vanished: another program expunged it
                    write_tombstone(db, box_id, uid, modseq)
                    bumped = True
                    continue
                db.execute(
                    "UPDATE message SET filename = ?, flags = ?, modseq = ?"
                    " WHERE mailbox_id = ? AND uid = ?",
                    (target, flags_to_text(new), modseq, box_id, uid),
                )
                bumped = True
                done.append(MessageRecord(uid, new, modseq))
            if bumped:
                db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
                folder.settle(db, [])  # the modseq floor the uidlist keeps
                # the renames durable before the commit: one lost to a power cut would
                # take the flags back at the next scan
                fsync_dir(os.path.join(folder.path, "cur"))
        return done, failed

    def _rename(self, filename: str, target: str, base: str) -> str | None:
        path = self._folder.path
        if filename == target:
            return target
        try:
            os.rename(os.path.join(path, filename), os.path.join(path, target))
            return target
        except FileNotFoundError:
            found = self._folder.locate(base)  # renamed by another program: retry once
            if found is None:
                return None
            try:
                os.rename(os.path.join(path, found), os.path.join(path, target))
            except FileNotFoundError:
                return None
            return target

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        self._writable()
        with self._store.index.write() as db:
            row = self._folder.ensure(db, move_new=True)
            chosen = [
                uid
                for (uid,) in db.execute(
                    "SELECT uid FROM message WHERE mailbox_id = ? AND instr(flags, '\\Deleted') > 0",
                    (row[0],),
                )
            ]
            if uids is not None:
                limit = set(uids)
                chosen = [uid for uid in chosen if uid in limit]
            removed = remove_messages(db, self._folder, row, chosen)
            if removed:
                self._folder.settle(db, [], removed=True)
            return removed

    def copy_to(self, uids: Iterable[int], target: str) -> CopyResult:
        dest = self._store.existing_folder(target)
        with self._store.index.write() as db, dest.locked():
            result = copy_messages(db, self._folder, uids, target, readonly=self.readonly)
            _record_copies(db, dest, result)
        return _or_gone(result)

    def move_to(self, uids: Iterable[int], target: str) -> CopyResult:
        self._writable()
        dest = self._store.existing_folder(target)
        with self._store.index.write() as db, dest.locked():
            result = copy_messages(db, self._folder, uids, target, readonly=self.readonly,
                                   move=True)
            _record_copies(db, dest, result)
            if result is not None and result.source_uids:
                self._folder.settle(db, [], removed=True)
        return _or_gone(result)

    def close(self) -> None:
        self._flush_cache()


def _record_copies(db: sqlite3.Connection, dest: Folder, result: CopyResult | None) -> None:
    """The UIDs a COPY or MOVE gave in ``dest``, appended to its uidlist (in the txn)."""
    if result is None or not result.target_uids:
        return
    row = dest.row()
    assert row is not None
    low, high = min(result.target_uids), max(result.target_uids)
    dest.settle(db, list(db.execute(
        "SELECT uid, base FROM message WHERE mailbox_id = ? AND uid BETWEEN ? AND ?"
        " ORDER BY uid", (row[0], low, high))))


def _or_gone(result: CopyResult | None) -> CopyResult:
    """A copy that found a requested message gone, raised once its transaction committed."""
    if result is None:
        raise MessageGone(GONE_TEXT)
    return result
