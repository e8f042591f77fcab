"""One mbox file: its rows in the index, its locks, its journal, and the parse that
brings the rows up to date.

Theory of operation
-------------------
The file is the truth for messages, flags (``format`` has the headers) and
UIDs once written; the index (the same SQLite schema the Maildir backend uses,
with the mailbox row's ``dir_ino``/``cur_mtime``/``new_mtime`` holding the
file's inode, mtime and size, plus the ``mbox_span`` table of byte offsets)
remembers UIDs of messages an MDA delivered that have no ``X-UID`` yet, modseqs,
tombstones and cached sizes. A sync compares inode, size and mtime with the
row: unchanged means no byte of the file is read; grown with a ``From `` line
at the old end means only the new tail is parsed (an MDA appended); anything
else is a full parse that keeps UIDs through ``X-UID`` (when ``X-IMAPbase``
carries our UIDVALIDITY) or, for messages without one, through a fingerprint
of the From line and visible header.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

import imapsession.storage.mbox.append_journal as append_journal
import imapsession.storage.mbox.format as fmt
import imapsession.storage.mbox.journal as journal
from imapsession.storage.base import SYSTEM_FLAGS, NoSuchMailbox, StorageError
from imapsession.storage.changes import write_tombstone
from imapsession.storage.flags import flags_to_text
from imapsession.storage.index import Index
from imapsession.storage.mbox.lock import locked
from imapsession.storage.modes import Modes
from imapsession.storage.rows import drop_mailbox_rows, mailbox_row

# mailbox row columns (shared schema; for mbox dir_ino/cur_mtime/new_mtime = ino/mtime/size)
ID, UIDVALIDITY, UIDNEXT, MODSEQ, FIRST_RECENT, INO, MTIME, SIZE = range(8)
SPAN_ROWS = ("mbox_span",)  # our rows per message, beside the shared tables
FILE_ROWS = ("mbox_span", "mbox_file")  # our rows per mailbox


class FolderOwner(Protocol):
    """What a folder needs of its store (the ``MboxStore``; a protocol, so that this
    module need not import the store module, which imports it)."""

    state_dir: str
    modes: Modes

    @property
    def index(self) -> Index: ...

    def existing_folder(self, name: str) -> Folder: ...


def put_span(db: sqlite3.Connection, box_id: int, uid: int, span: fmt.Span) -> None:
    db.execute(
        "INSERT OR REPLACE INTO mbox_span (mailbox_id, uid, from_off, hdr_off, hdr_end,"
        " body_off, end_off, meta_off, meta_len, has_uid, fingerprint)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (box_id, uid, span.from_off, span.hdr_off, span.hdr_end, span.body_off,
         span.end_off, span.meta_off, span.meta_len, int(span.uid == uid), span.fingerprint))


class Folder:
    """One mailbox file: its rows in the index, its locks, its journal."""

    def __init__(self, store: FolderOwner, name: str, path: str):
        self.store = store
        self.name = name
        self.path = path

    @property
    def index(self) -> Index:
        return self.store.index

    def row(self) -> tuple | None:
        return mailbox_row(self.index.db, self.name)

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def journal_path(self, st: os.stat_result) -> str:
        return os.path.join(self.store.state_dir, f"journal-{st.st_dev}-{st.st_ino}")

    @contextmanager
    def open(self, *, write: bool) -> Iterator[int]:
        """The mbox open and locked; an interrupted rewrite is finished or undone first."""
        modes = self.store.modes
        if self.name == "INBOX" and not os.path.exists(self.path):
            modes.create_empty(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR if write else os.O_RDONLY)
        except FileNotFoundError:
            raise NoSuchMailbox(f"Mailbox doesn't exist: {self.name}") from None
        except IsADirectoryError:
            raise NoSuchMailbox(f"Mailbox isn't selectable: {self.name}") from None
        try:
            jpath = self.journal_path(os.fstat(fd))
            if os.path.exists(jpath):
                if not write:
                    os.close(fd)
                    fd = os.open(self.path, os.O_RDWR)
                with locked(self.path, fd, write=True, modes=modes):
                    if append_journal.is_append(jpath):
                        append_journal.recover(jpath, fd)
                    else:
                        journal.recover(jpath, fd)
            with locked(self.path, fd, write=write, modes=modes):
                yield fd
        finally:
            os.close(fd)

    # bringing the index up to date ------------------------------------------------------

    def fresh(self, row: tuple | None, st: os.stat_result) -> bool:
        return row is not None and (row[INO], row[MTIME], row[SIZE]) == (
            st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self, db: sqlite3.Connection, fd: int) -> tuple:
        """The up-to-date mailbox row; call inside a write transaction with the file locked."""
        st = os.fstat(fd)
        row = self.row()
        if self.fresh(row, st):
            return row  # type: ignore[return-value]
        if row is not None and row[INO] == st.st_ino and 0 <= row[SIZE] < st.st_size and (
                row[SIZE] == 0 or os.pread(fd, 5, row[SIZE]) == b"From "):
            self._scan(db, fd, st, row, start=row[SIZE])
        else:
            self._scan(db, fd, st, row, start=0)
        return self.row()  # type: ignore[return-value]

    def _scan(self, db: sqlite3.Connection, fd: int, st: os.stat_result, row: tuple | None,
              start: int) -> None:
        size = st.st_size
        if size and start == 0 and not fmt.is_mbox_start(os.pread(fd, 5, 0)):
            raise StorageError(f"{self.name} is not an mbox file")
        try:
            spans = fmt.parse_fd(fd, start, size) if size else []
        except ValueError as exc:
            raise StorageError(f"{self.name}: broken mbox ({exc})") from None
        base = spans[0].base if spans and start == 0 else None
        if row is not None and base is not None and base[0] != row[UIDVALIDITY]:
            drop_mailbox_rows(db, row[ID], FILE_ROWS)  # another server gave the file new UIDs
            row = None
        if row is None:
            if base is not None:
                uidvalidity, uidnext = base[0], max(base[1], 1)
            else:
                uidvalidity, uidnext = self.index.next_uidvalidity(), 1
            db.execute(
                "INSERT INTO mailbox (name, uidvalidity, uidnext, highest_modseq,"
                " first_recent_uid, dir_ino) VALUES (?, ?, ?, 1, ?, ?)",
                (self.name, uidvalidity, uidnext, uidnext, st.st_ino))
            row = self.row()
            db.execute("INSERT OR IGNORE INTO mbox_file (mailbox_id) VALUES (?)", (row[ID],))
        assert row is not None
        # like Dovecot and UW imapd: X-Keywords count only where X-IMAPbase declares them;
        # a tail parse reads the declaration from the file too, as a full parse would
        if start > 0:
            base = fmt.read_base(fd)
            if base is not None and base[0] != row[UIDVALIDITY]:
                base = None
        declared = list(base[2]) if base is not None else []
        self._apply(db, row, spans, start, trust=start > 0 or base is not None,
                    declared=declared)
        if start == 0:
            db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                       (spans[0].base_off if spans else -1, row[ID]))
        if base is not None:
            self.define_keywords(db, row[ID], base[2])
        st = os.fstat(fd)
        db.execute("UPDATE mailbox SET dir_ino = ?, cur_mtime = ?, new_mtime = ? WHERE id = ?",
                   (st.st_ino, st.st_mtime_ns, size, row[ID]))

    def _apply(self, db: sqlite3.Connection, row: tuple, spans: list[fmt.Span],
               start: int, trust: bool, declared: list[str]) -> None:
        """Give each parsed span its UID (X-UID, fingerprint or a new one) and record it."""
        box_id, uidnext, modseq = row[ID], row[UIDNEXT], row[MODSEQ] + 1
        known = {
            uid: (fp, flags)
            for uid, fp, flags in db.execute(
                "SELECT s.uid, s.fingerprint, m.flags FROM mbox_span s JOIN message m"
                " ON m.mailbox_id = s.mailbox_id AND m.uid = s.uid WHERE s.mailbox_id = ?"
                " AND s.from_off >= ?", (box_id, start))
        }
        last = 0
        if start > 0:
            last = uidnext - 1
        unmatched = sorted(known)
        changed = False
        seen: set[int] = set()
        spelling = {k.lower(): k for k in declared}
        for span in spans:
            uid = 0
            if trust and span.uid > last and (start == 0 or span.uid >= uidnext):
                uid = span.uid
            else:
                for cand in unmatched:
                    if cand > last and cand not in seen and known[cand][0] == span.fingerprint:
                        uid = cand
                        break
            if uid == 0:
                uid = max(uidnext, last + 1)
            last = uid
            uidnext = max(uidnext, uid + 1)
            seen.add(uid)
            flag_text = flags_to_text(
                f if f in SYSTEM_FLAGS else spelling[f.lower()] for f in span.flags
                if f in SYSTEM_FLAGS or f.lower() in spelling)
            old = known.get(uid)
            size = span.vsize
            if old is None:
                db.execute("DELETE FROM tombstone WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
                db.execute(
                    "INSERT OR REPLACE INTO message (mailbox_id, uid, base, filename, flags,"
                    " modseq, size, internal_date) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                    (box_id, uid, str(uid), flag_text, modseq, size, span.date))
                changed = True
            else:
                if old[1] != flag_text:
                    db.execute("UPDATE message SET flags = ?, modseq = ? WHERE mailbox_id = ?"
                               " AND uid = ?", (flag_text, modseq, box_id, uid))
                    changed = True
                db.execute("UPDATE message SET size = ?, internal_date = ? WHERE mailbox_id = ?"
                           " AND uid = ?", (size, span.date, box_id, uid))
            put_span(db, box_id, uid, span)
        for uid in known:
            if uid not in seen:
                write_tombstone(db, box_id, uid, modseq, SPAN_ROWS)
                changed = True
        db.execute("UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                   (uidnext, modseq if changed else row[MODSEQ], box_id))

    # keywords ---------------------------------------------------------------------------

    def keywords(self, box_id: int) -> list[str]:
        got = self.index.db.execute(
            "SELECT keywords FROM mbox_file WHERE mailbox_id = ?", (box_id,)).fetchone()
        return [k for k in (got[0] if got else "").split("\n") if k]

    def define_keywords(self, db: sqlite3.Connection, box_id: int, words: Iterable[str]) -> bool:
        """Add keywords to the mailbox's list; True when one was new (X-IMAPbase must follow)."""
        have = self.keywords(box_id)
        lower = {k.lower() for k in have}
        added = False
        for word in words:
            if word.lower() not in lower:
                have.append(word)
                lower.add(word.lower())
                added = True
        if added:
            db.execute("INSERT OR IGNORE INTO mbox_file (mailbox_id) VALUES (?)", (box_id,))
            db.execute("UPDATE mbox_file SET keywords = ? WHERE mailbox_id = ?",
                       ("\n".join(have), box_id))
        return added

    def spelling(self, box_id: int, flags: frozenset[str]) -> frozenset[str]:
        """Keywords in the spelling the mailbox already knows (they are case-insensitive)."""
        known = {k.lower(): k for k in self.keywords(box_id)}
        return frozenset(f if f in SYSTEM_FLAGS else known.get(f.lower(), f) for f in flags)

    # spans ------------------------------------------------------------------------------

    def spans(self, db: sqlite3.Connection, box_id: int) -> list[tuple]:
        return db.execute(
            "SELECT s.uid, s.from_off, s.hdr_off, s.hdr_end, s.body_off, s.end_off, s.meta_off,"
            " s.meta_len, m.flags, m.internal_date FROM mbox_span s JOIN message m"
            " ON m.mailbox_id = s.mailbox_id AND m.uid = s.uid WHERE s.mailbox_id = ?"
            " ORDER BY s.from_off", (box_id,)).fetchall()

    def stamp(self, db: sqlite3.Connection, fd: int, box_id: int) -> None:
        """Record the file as we left it, so our own write is not taken for a foreign one."""
        st = os.fstat(fd)
        db.execute("UPDATE mailbox SET dir_ino = ?, cur_mtime = ?, new_mtime = ? WHERE id = ?",
                   (st.st_ino, st.st_mtime_ns, st.st_size, box_id))

    def set_uidnext_in_file(self, db: sqlite3.Connection, fd: int, box_id: int,
                            uidnext: int) -> None:
        got = db.execute("SELECT base_off FROM mbox_file WHERE mailbox_id = ?",
                         (box_id,)).fetchone()
        if got and got[0] >= 0 and os.pread(fd, 10, got[0]).isdigit():
            os.pwrite(fd, b"%010d" % min(uidnext - 1, 9_999_999_999), got[0])  # the last UID
