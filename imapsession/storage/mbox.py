"""The mbox backend: ``MAIL=mbox:ROOT[:INBOX=PATH]`` as Dovecot lays it out, facts in the index.

Theory of operation
-------------------
Folders are files under ROOT, subfolders live in directories (so a folder that
holds mail cannot have children: Dovecot's ``\\NoInferiors``), INBOX is wherever
``INBOX=`` says (``ROOT/inbox`` by default). Names are modified UTF-7 per level
on disk, as Dovecot writes them; levels beginning with ``.`` are refused because
ROOT/.imap holds our index, journals and spool (next to Dovecot's own index) and
``.subscriptions`` the subscriptions.

The file is the truth for messages, flags (``mbox_format`` has the headers) and
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

Writers take the index's write transaction first, then the mbox locks
(``mbox_lock``: dot-lock plus fcntl), so our processes queue on SQLite and MDAs
wait only while bytes move. APPEND writes at the end and truncates back on
failure; a flag change rewrites the Status/X-Status/X-Keywords block in the
space reserved for it; EXPUNGE (and a flag change that does not fit) rewrites
the tail in place behind a rollback journal (``mbox_journal``), normalising
every rewritten message (X-UID, padding, Content-Length, X-IMAPbase first).
"""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import BinaryIO

from imapsession.storage import mbox_format as fmt
from imapsession.storage import mbox_journal as journal
from imapsession.storage import names
from imapsession.storage.base import (
    SYSTEM_FLAGS,
    AppendResult,
    CopyResult,
    InvalidMailboxName,
    Mailbox,
    MailboxExists,
    MailboxInfo,
    MailboxNotEmpty,
    MailStore,
    MessageGone,
    MessageMeta,
    MessageRecord,
    NoSuchMailbox,
    SpoolFile,
    StatusInfo,
    StorageError,
    StoreMode,
    SyncResult,
    stored_flags,
)
from imapsession.storage.cache import MessageCache
from imapsession.storage.index import Index
from imapsession.storage.maildir import (
    MaildirSpool,
    _check_flags,
    _datetime_from_ns,
    _flag_set,
    _flag_text,
    _save_snapshot,
    changes_since,
    crlf_size,
)
from imapsession.storage.mbox_lock import locked
from imapsession.storage.subscriptions import Subscriptions
from imapsession.text.mutf7 import mutf7_decode, mutf7_encode

STATE_DIR = ".imap"
INDEX_NAME = "imapsession.index.sqlite"
SUBSCRIPTIONS_FILE = ".subscriptions"
_EMPTY: frozenset[str] = frozenset()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mbox_file (
    mailbox_id INTEGER PRIMARY KEY,
    keywords TEXT NOT NULL DEFAULT '',     -- defined keywords, newline-separated, in order
    base_off INTEGER NOT NULL DEFAULT -1   -- offset of X-IMAPbase's UIDNEXT digits, -1: none
);
CREATE TABLE IF NOT EXISTS mbox_span (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    from_off INTEGER NOT NULL,
    hdr_off INTEGER NOT NULL,
    hdr_end INTEGER NOT NULL,
    body_off INTEGER NOT NULL,
    end_off INTEGER NOT NULL,
    meta_off INTEGER NOT NULL,
    meta_len INTEGER NOT NULL,
    has_uid INTEGER NOT NULL,              -- X-UID is written in the file
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
"""

# mailbox row columns (shared schema; for mbox dir_ino/cur_mtime/new_mtime = ino/mtime/size)
_ID, _UIDVALIDITY, _UIDNEXT, _MODSEQ, _FIRST_RECENT, _INO, _MTIME, _SIZE = range(8)


def _sender() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "MAILER-DAEMON"
    return user if user == "MAILER-DAEMON" else f"{user}@{os.uname().nodename.split('.')[0]}"


def _block_fields(fd: int, off: int, length: int) -> set[bytes]:
    return {fmt.field_name(line) for line in fmt.header_lines(os.pread(fd, length, off))}


# --- one mbox file and its index rows ------------------------------------------------


class _Folder:
    """One mailbox file: its rows in the index, its locks, its journal."""

    def __init__(self, store: MboxStore, name: str, path: str):
        self.store = store
        self.name = name
        self.path = path

    @property
    def index(self) -> Index:
        return self.store.index

    def row(self) -> tuple | None:
        return self.index.db.execute(
            "SELECT id, uidvalidity, uidnext, highest_modseq, first_recent_uid, dir_ino,"
            " cur_mtime, new_mtime FROM mailbox WHERE name = ?", (self.name,)).fetchone()

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def journal_path(self, st: os.stat_result) -> str:
        return os.path.join(self.store.state_dir, f"journal-{st.st_dev}-{st.st_ino}")

    @contextmanager
    def open(self, *, write: bool) -> Iterator[int]:
        """The mbox open and locked; an interrupted rewrite is finished or undone first."""
        if self.name == "INBOX" and not os.path.exists(self.path):
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
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
                with locked(self.path, fd, write=True):
                    journal.recover(jpath, fd)
            with locked(self.path, fd, write=write):
                yield fd
        finally:
            os.close(fd)

    # bringing the index up to date ------------------------------------------------------

    def fresh(self, row: tuple | None, st: os.stat_result) -> bool:
        return row is not None and (row[_INO], row[_MTIME], row[_SIZE]) == (
            st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self, db: sqlite3.Connection, fd: int) -> tuple:
        """The up-to-date mailbox row; call inside a write transaction with the file locked."""
        st = os.fstat(fd)
        row = self.row()
        if self.fresh(row, st):
            return row  # type: ignore[return-value]
        if row is not None and row[_INO] == st.st_ino and 0 <= row[_SIZE] < st.st_size and (
                row[_SIZE] == 0 or os.pread(fd, 5, row[_SIZE]) == b"From "):
            self._scan(db, fd, st, row, start=row[_SIZE])
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
        if row is not None and base is not None and base[0] != row[_UIDVALIDITY]:
            self.store._drop_rows(db, row[_ID])  # another server gave the file new UIDs
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
            db.execute("INSERT OR IGNORE INTO mbox_file (mailbox_id) VALUES (?)", (row[_ID],))
        assert row is not None
        # like Dovecot and UW imapd: X-Keywords count only where X-IMAPbase declares them
        declared = list(base[2]) if base is not None else (
            self.keywords(row[_ID]) if start > 0 else [])
        self._apply(db, row, spans, start, trust=start > 0 or base is not None,
                    declared=declared)
        if start == 0:
            db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                       (spans[0].base_off if spans else -1, row[_ID]))
        if base is not None:
            self.define_keywords(db, row[_ID], base[2])
        st = os.fstat(fd)
        db.execute("UPDATE mailbox SET dir_ino = ?, cur_mtime = ?, new_mtime = ? WHERE id = ?",
                   (st.st_ino, st.st_mtime_ns, size, row[_ID]))

    def _apply(self, db: sqlite3.Connection, row: tuple, spans: list[fmt.Span],
               start: int, trust: bool, declared: list[str]) -> None:
        """Give each parsed span its UID (X-UID, fingerprint or a new one) and record it."""
        box_id, uidnext, modseq = row[_ID], row[_UIDNEXT], row[_MODSEQ] + 1
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
            flag_text = _flag_text(
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
            self.store._put_span(db, box_id, uid, span)
        for uid in known:
            if uid not in seen:
                self.store._tombstone(db, box_id, uid, modseq)
                changed = True
        db.execute("UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                   (uidnext, modseq if changed else row[_MODSEQ], box_id))

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

    # rewriting in place -----------------------------------------------------------------

    def rewrite(self, db: sqlite3.Connection, fd: int, row: tuple, *, drop: set[int],
                flags: dict[int, frozenset[str]], start_uid: int) -> None:
        """Rewrite from message ``start_uid`` (or the first dropped one) to the end, journaled.

        ``drop``: UIDs whose messages go; ``flags``: new flags by UID. Call with the file
        write-locked inside a write transaction; the caller records flags and tombstones.
        """
        box_id = row[_ID]
        spans = self.spans(db, box_id)
        base_off = db.execute("SELECT base_off FROM mbox_file WHERE mailbox_id = ?",
                              (box_id,)).fetchone()
        firsts = [i for i, s in enumerate(spans) if s[0] in drop or s[0] == start_uid]
        if not firsts:
            return
        first = 0 if not base_off or base_off[0] < 0 else firsts[0]
        st = os.fstat(fd)
        old_size = st.st_size
        at = spans[first][1]
        keywords = self.keywords(box_id)
        plan: list[tuple[bytes, int, int]] = []  # (new head, body_off, end_off)
        kept_uids: list[int] = []
        for uid, from_off, hdr_off, hdr_end, body_off, end_off, *_rest, flag_text, _date in (
                spans[first:]):
            if uid in drop:
                continue
            from_bytes = os.pread(fd, hdr_off - from_off, from_off)
            if not from_bytes.endswith(b"\n"):
                from_bytes += b"\n"
            header = os.pread(fd, hdr_end - hdr_off, hdr_off)
            new_flags = flags.get(uid, _flag_set(flag_text))
            base = fmt.imapbase(row[_UIDVALIDITY], row[_UIDNEXT], keywords) \
                if at == 0 and not plan else b""
            head = b"".join((from_bytes, fmt.visible_header(header),
                             fmt.meta_block(new_flags, recent=uid >= row[_FIRST_RECENT],
                                            base=base, uid=uid),
                             f"Content-Length: {end_off - body_off}\n\n".encode()))
            plan.append((head, body_off, end_off))
            kept_uids.append(uid)
        new_size = at + sum(len(h) + (e - b) + 1 for h, b, e in plan)
        jpath = self.journal_path(st)
        journal.begin(jpath, fd, at, old_size, new_size)
        jfd = os.open(jpath, os.O_RDONLY)
        try:
            skip = len(os.pread(jfd, 256, 0).split(b"\n", 1)[0]) + 1
            if new_size > old_size:
                os.ftruncate(fd, new_size)
            pos = at
            for head, body_off, end_off in plan:
                journal.fault("rewrite-write")
                os.pwrite(fd, head, pos)
                pos += len(head)
                src = skip + body_off - at
                left = end_off - body_off
                while left > 0:
                    chunk = os.pread(jfd, min(left, 1 << 20), src)
                    if not chunk:
                        raise StorageError("journal shorter than expected")
                    os.pwrite(fd, chunk, pos)
                    pos, src, left = pos + len(chunk), src + len(chunk), left - len(chunk)
                os.pwrite(fd, b"\n", pos)
                pos += 1
            os.fsync(fd)
            journal.fault("before-commit")
            journal.commit(jpath)
            journal.fault("after-commit")
            os.ftruncate(fd, new_size)
            os.fsync(fd)
            journal.fault("before-finish")
        finally:
            os.close(jfd)
        journal.finish(jpath)
        # the new offsets, from the bytes just written
        for uid in drop:
            db.execute("DELETE FROM mbox_span WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
        if new_size > at:
            parsed = fmt.parse_fd(fd, at, new_size)
            if len(parsed) != len(kept_uids):
                raise StorageError("rewritten mbox does not parse back")
            for uid, span in zip(kept_uids, parsed, strict=True):
                self.store._put_span(db, box_id, uid, span)
            if at == 0:
                db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                           (parsed[0].base_off, box_id))
        elif at == 0:
            db.execute("UPDATE mbox_file SET base_off = -1 WHERE mailbox_id = ?", (box_id,))

    def update_base(self, db: sqlite3.Connection, fd: int, row: tuple) -> None:
        """Write the keyword list into X-IMAPbase: in place when it fits, else rewrite all."""
        first = db.execute(
            "SELECT s.uid, s.meta_off, s.meta_len, m.flags FROM mbox_span s JOIN message m"
            " ON m.mailbox_id = s.mailbox_id AND m.uid = s.uid WHERE s.mailbox_id = ?"
            " AND s.from_off = 0", (row[_ID],)).fetchone()
        if first is None:
            return
        uid, meta_off, meta_len, flag_text = first
        if meta_off >= 0 and b"x-imapbase" in _block_fields(fd, meta_off, meta_len):
            try:
                block = self.block(fd, row, uid, meta_off, meta_len, _flag_set(flag_text))
            except ValueError:
                pass
            else:
                os.pwrite(fd, block, meta_off)
                return
        self.rewrite(db, fd, row, drop=set(), flags={}, start_uid=uid)

    def block(self, fd: int, row: tuple, uid: int, meta_off: int, meta_len: int,
              flags: frozenset[str]) -> bytes:
        """The reserved block re-rendered with ``flags``, keeping the fields it held."""
        fields = _block_fields(fd, meta_off, meta_len)
        base = fmt.imapbase(row[_UIDVALIDITY], row[_UIDNEXT], self.keywords(row[_ID])) \
            if b"x-imapbase" in fields else b""
        return fmt.meta_block(flags, meta_len, recent=uid >= row[_FIRST_RECENT], base=base,
                              uid=uid if b"x-uid" in fields else 0)

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

    def append_many(self, db: sqlite3.Connection, items: list[tuple[bytes, frozenset[str],
                    int | None]]) -> tuple[int, list[int]]:
        """Append messages (raw bytes, flags, internal date ns) under lock; (uidvalidity, uids)."""
        with self.open(write=True) as fd:
            row = self.refresh(db, fd)
            box_id = row[_ID]
            added = self.define_keywords(db, box_id, sorted(
                {f for _, fl, _ in items for f in fl if f not in SYSTEM_FLAGS}))
            keywords = self.keywords(box_id)
            size = os.fstat(fd).st_size
            lead = b"" if size == 0 or os.pread(fd, 1, size - 1) == b"\n" else b"\n"
            uid = row[_UIDNEXT]
            uidnext = uid + len(items)
            sender = _sender()
            parts, uids = [lead], []
            for raw, flags, date in items:
                header, body = fmt.split_message(raw)
                base = fmt.imapbase(row[_UIDVALIDITY], uidnext, keywords) \
                    if size == 0 and not uids else b""
                parts.append(fmt.render(fmt.from_line(date, sender), header,
                                        fmt.escape_body(body), uid=uid,
                                        flags=self.spelling(box_id, flags), base=base,
                                        recent=True))
                uids.append(uid)
                uid += 1
            blob = b"".join(parts)
            try:
                os.pwrite(fd, blob, size)
                journal.fault("append-written")
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, size)
                raise
            if size > 0:
                self.set_uidnext_in_file(db, fd, box_id, uidnext)
            spans = fmt.parse_fd(fd, size + len(lead), size + len(blob))
            modseq = row[_MODSEQ] + 1
            for new_uid, span in zip(uids, spans, strict=True):
                db.execute(
                    "INSERT OR REPLACE INTO message (mailbox_id, uid, base, filename, flags,"
                    " modseq, size, internal_date) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                    (box_id, new_uid, str(new_uid), _flag_text(span.flags), modseq, span.vsize,
                     span.date))
                self.store._put_span(db, box_id, new_uid, span)
            if size == 0:
                db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                           (spans[0].base_off if spans else -1, box_id))
            db.execute("UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                       (uidnext, modseq, box_id))
            if added and size > 0:
                self.update_base(db, fd, self.row())
                os.fsync(fd)
            self.stamp(db, fd, box_id)
            return row[_UIDVALIDITY], uids


class _MessageStream(io.RawIOBase):
    """A message as served (visible header, then the body read from the file in chunks),
    so a large FETCH or a header-only SEARCH never holds a whole message in memory.

    Each body read takes the shared fcntl lock and checks the file is still the one
    opened and still reaches the body's end (appends and flag writes in place are
    fine). A rewrite that moves bytes without shrinking the file is not detected
    here; the session's next sync sees it.
    """

    def __init__(self, path: str, fd: int, head: bytes, body_off: int, end_off: int,
                 ino: int):
        super().__init__()
        self._fd = fd  # a dup of the mailbox's descriptor; closed with the stream
        self._path = path
        self._head = head
        self._body_off, self._end = body_off, end_off
        self._ino = ino
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer)
        if self._pos < len(self._head):
            chunk = self._head[self._pos:self._pos + want]
        else:
            at = self._body_off + self._pos - len(self._head)
            if at >= self._end:
                return 0
            with locked(self._path, self._fd, write=False):
                if os.stat(self._path).st_ino != self._ino or os.fstat(
                        self._fd).st_size < self._end:
                    raise MessageGone("The mailbox was rewritten while the message was read")
                chunk = os.pread(self._fd, min(want, self._end - at), at)
        buffer[:len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


# --- the mailbox ------------------------------------------------------------------------


class MboxMailbox(Mailbox):
    """One selected (or examined) mbox of one session."""

    def __init__(self, folder: _Folder, readonly: bool):
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
                folder.journal_path(st)):
            return row  # type: ignore[return-value]
        with self._store.index.write() as db, folder.open(write=False) as fd:
            return folder.refresh(db, fd)

    def _id(self) -> int:
        if self._box_id is None:
            self._box_id = self._row()[_ID]
        return self._box_id

    def sync(self, since_modseq: int = 0) -> SyncResult:
        self._flush_cache()
        row = self._row()
        self._box_id = box_id = row[_ID]
        recent: frozenset[int] = _EMPTY  # type: ignore[assignment]
        if not self.readonly and row[_FIRST_RECENT] < row[_UIDNEXT]:
            with self._store.index.write() as db:
                row = self._folder.row()
                claimed = [uid for (uid,) in db.execute(
                    "SELECT uid FROM message WHERE mailbox_id = ? AND uid >= ?",
                    (box_id, row[_FIRST_RECENT]))]
                db.execute("UPDATE mailbox SET first_recent_uid = uidnext WHERE id = ?",
                           (box_id,))
            recent = frozenset(claimed)
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
            _save_snapshot(self._store.index, box_id, highest, changed)
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
                " WHERE mailbox_id = ?", (row[_ID],))}
            if self._fd is None or self._reading is None or self._reading[0][0] != row[_INO]:
                self._close_fd()
                self._fd = os.open(self._folder.path, os.O_RDONLY)
            self._reading = ((row[_INO], row[_MTIME], row[_SIZE]), spans)
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
        stream = _MessageStream(self._folder.path, os.dup(fd), head, body_off, end_off,
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
        return MessageMeta(size, _datetime_from_ns(date))

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
        wanted = _check_flags(flags)
        folder = self._folder
        done: list[MessageRecord] = []
        failed: list[int] = []
        with self._store.index.write() as db, folder.open(write=True) as fd:
            row = folder.refresh(db, fd)
            box_id, modseq = row[_ID], row[_MODSEQ] + 1
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
                old = _flag_set(flag_text)
                if unchanged_since is not None and old_modseq > unchanged_since:
                    failed.append(uid)
                    continue
                new = stored_flags(mode, old, wanted)
                if new == old:
                    done.append(MessageRecord(uid, old, old_modseq))
                    continue
                changes[uid] = new
                done.append(MessageRecord(uid, new, modseq))
            misfits = []
            for uid, new in changes.items():
                meta_off, meta_len = db.execute(
                    "SELECT meta_off, meta_len FROM mbox_span WHERE mailbox_id = ? AND uid = ?",
                    (box_id, uid)).fetchone()
                try:
                    if meta_off < 0:
                        raise ValueError("no reserved space")
                    block = folder.block(fd, row, uid, meta_off, meta_len, new)
                except ValueError:
                    misfits.append(uid)
                    continue
                os.pwrite(fd, block, meta_off)
            if misfits:
                folder.rewrite(db, fd, row, drop=set(), flags=changes, start_uid=min(misfits))
            if changes:
                os.fsync(fd)
                db.executemany(
                    "UPDATE message SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
                    [(_flag_text(new), modseq, box_id, uid) for uid, new in changes.items()])
                db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?",
                           (modseq, box_id))
            if added:
                folder.update_base(db, fd, folder.row())
                os.fsync(fd)
            folder.stamp(db, fd, box_id)
        return done, failed

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        self._writable()
        with self._store.index.write() as db, self._folder.open(write=True) as fd:
            row = self._folder.refresh(db, fd)
            chosen = [uid for (uid,) in db.execute(
                "SELECT uid FROM message WHERE mailbox_id = ? AND instr(flags, '\\Deleted') > 0",
                (row[_ID],))]
            if uids is not None:
                limit = set(uids)
                chosen = [uid for uid in chosen if uid in limit]
            return self._remove(db, fd, row, chosen)

    def _remove(self, db: sqlite3.Connection, fd: int, row: tuple, uids: list[int]) -> list[int]:
        box_id = row[_ID]
        present = {uid for (uid,) in db.execute(
            "SELECT uid FROM mbox_span WHERE mailbox_id = ?", (box_id,))}
        removed = sorted(set(uids) & present)
        if not removed:
            return []
        self._folder.rewrite(db, fd, row, drop=set(removed), flags={}, start_uid=removed[0])
        modseq = row[_MODSEQ] + 1
        for uid in removed:
            self._store._tombstone(db, box_id, uid, modseq)
        db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
        self._folder.stamp(db, fd, box_id)
        return removed

    def copy_to(self, uids: Iterable[int], target: str) -> CopyResult:
        return self._copy(uids, target, move=False)

    def move_to(self, uids: Iterable[int], target: str) -> CopyResult:
        self._writable()
        return self._copy(uids, target, move=True)

    def _copy(self, uids: Iterable[int], target: str, move: bool) -> CopyResult:
        dest = self._store._existing_folder(target)
        with self._store.index.write() as db:
            row = self._row()
            items, sources = [], []
            for uid in sorted(set(uids)):
                got = db.execute("SELECT flags, internal_date FROM message WHERE mailbox_id = ?"
                                 " AND uid = ?", (row[_ID], uid)).fetchone()
                if got is None:
                    continue
                items.append((self.read_message(uid), _flag_set(got[0]), got[1]))
                sources.append(uid)
            if not items:
                dest_row = dest.row()
                if dest_row is None:
                    with dest.open(write=False) as fd:
                        dest_row = dest.refresh(db, fd)
                return CopyResult(dest_row[_UIDVALIDITY], (), ())
            uidvalidity, new_uids = dest.append_many(db, items)
            if move:
                with self._folder.open(write=True) as fd:
                    row = self._folder.refresh(db, fd)
                    self._remove(db, fd, row, sources)
        return CopyResult(uidvalidity, tuple(sources), tuple(new_uids))

    def close(self) -> None:
        self._flush_cache()
        self._close_fd()
        self._reading = None


# --- the store ----------------------------------------------------------------------------


class MboxStore(MailStore):
    """One user's mbox tree, INBOX file and index."""

    def __init__(self, root: str, inbox: str | None = None):
        self.root = os.path.abspath(root)
        self.inbox = os.path.abspath(inbox) if inbox else os.path.join(self.root, "inbox")
        self.state_dir = os.path.join(self.root, STATE_DIR)
        self._index: Index | None = None

    @property
    def index(self) -> Index:
        if self._index is None:
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
            index = Index(os.path.join(self.state_dir, INDEX_NAME))
            with index.write() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            self._index = index
        return self._index

    # names -----------------------------------------------------------------------------

    def _path(self, canonical: str) -> str:
        if canonical == "INBOX":
            return self.inbox
        parts = []
        for part in canonical.split("/"):
            encoded = mutf7_encode(part)
            if encoded.startswith("."):
                raise InvalidMailboxName("Mailbox name levels must not begin with '.'")
            if len(encoded.encode()) > names.NAME_MAX:
                raise InvalidMailboxName("Mailbox name is too long")
            parts.append(encoded)
        if parts[-1].endswith(".lock"):
            raise InvalidMailboxName("Mailbox names ending in .lock are kept for dot-locks")
        path = os.path.join(self.root, *parts)
        if len(os.fsencode(path)) + 16 > names.PATH_MAX:
            raise InvalidMailboxName("Mailbox name makes a path that is too long")
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)  # a planted symlink (to a file or a directory) is refused
        if not real.startswith(real_root + os.sep) or real != os.path.join(
                os.path.realpath(os.path.dirname(path)), os.path.basename(path)):
            raise InvalidMailboxName("Mailbox name would leave the mail root")
        return path

    def _folder(self, name: str) -> _Folder:
        canonical = names.normalize(name)
        return _Folder(self, canonical, self._path(canonical))

    def _existing_folder(self, name: str) -> _Folder:
        folder = self._folder(name)
        if folder.name != "INBOX" and not folder.exists():
            raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
        return folder

    def _put_span(self, db: sqlite3.Connection, box_id: int, uid: int, span: fmt.Span) -> None:
        db.execute(
            "INSERT OR REPLACE INTO mbox_span (mailbox_id, uid, from_off, hdr_off, hdr_end,"
            " body_off, end_off, meta_off, meta_len, has_uid, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (box_id, uid, span.from_off, span.hdr_off, span.hdr_end, span.body_off,
             span.end_off, span.meta_off, span.meta_len, int(span.uid == uid), span.fingerprint))

    def _tombstone(self, db: sqlite3.Connection, box_id: int, uid: int, modseq: int) -> None:
        for table in ("message", "message_cache", "mbox_span"):
            db.execute(f"DELETE FROM {table} WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
        db.execute("INSERT OR REPLACE INTO tombstone (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
                   (box_id, uid, modseq))

    def _drop_rows(self, db: sqlite3.Connection, box_id: int) -> None:
        for table in ("message", "tombstone", "message_cache", "snapshot", "mbox_span",
                      "mbox_file"):
            db.execute(f"DELETE FROM {table} WHERE mailbox_id = ?", (box_id,))
        db.execute("DELETE FROM mailbox WHERE id = ?", (box_id,))

    def _entries(self) -> dict[str, bool]:
        """name -> selectable for every file and directory under the root."""
        out: dict[str, bool] = {}
        inbox = os.path.realpath(self.inbox)

        def walk(directory: str, prefix: str) -> None:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                return
            for entry in entries:
                if entry.name.startswith(".") or entry.name.endswith(".lock"):
                    continue
                try:
                    part = mutf7_decode(entry.name)
                except ValueError:
                    continue
                if mutf7_encode(part) != entry.name:
                    continue
                name = prefix + part
                try:
                    if names.normalize(name) != name:
                        continue
                except StorageError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    out[name] = False
                    walk(entry.path, name + "/")
                elif entry.is_file(follow_symlinks=False):
                    if os.path.realpath(entry.path) == inbox:
                        continue
                    out[name] = True

        walk(self.root, "")
        return out

    # tree -------------------------------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        selectable = self._entries()
        selectable["INBOX"] = True
        parents = {name.rsplit("/", 1)[0] for name in selectable if "/" in name}
        ordered = sorted(selectable, key=lambda n: (n != "INBOX", n))
        return [MailboxInfo(n, selectable[n], n in parents) for n in ordered]

    def create_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        with self.index.write():
            if os.path.lexists(folder.path):
                raise MailboxExists(f"Mailbox already exists: {folder.name}")
            parent = os.path.dirname(folder.path)
            probe = parent
            while len(probe) > len(self.root):
                if os.path.isfile(probe) or os.path.realpath(probe) == os.path.realpath(
                        self.inbox):
                    raise StorageError("Mailbox doesn't allow inferior mailboxes")
                probe = os.path.dirname(probe)
            os.makedirs(parent, mode=0o700, exist_ok=True)
            try:
                os.close(os.open(folder.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                raise MailboxExists(f"Mailbox already exists: {folder.name}") from None

    def delete_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise StorageError("INBOX can't be deleted.")
        with self.index.write() as db:
            if os.path.isdir(folder.path):
                if os.listdir(folder.path):
                    raise MailboxNotEmpty(
                        f"Mailbox {folder.name} has children and is not selectable;"
                        " delete its children first")
                os.rmdir(folder.path)
                return
            if not os.path.isfile(folder.path):
                raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
            st = os.stat(folder.path)
            os.unlink(folder.path)
            for path in (folder.journal_path(st), folder.path + ".lock"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            row = folder.row()
            if row is not None:
                self._drop_rows(db, row[_ID])

    def rename_mailbox(self, old: str, new: str) -> None:
        src = self._folder(old)
        dst = self._folder(new)
        if dst.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        if src.name == dst.name:
            raise MailboxExists(f"Mailbox already exists: {dst.name}")
        if dst.name.startswith(src.name + "/"):
            raise InvalidMailboxName("Can't rename a mailbox under itself")
        if src.name == "INBOX":
            self.create_mailbox(dst.name)
            inbox = MboxMailbox(self._existing_folder("INBOX"), readonly=False)
            with self.index.write() as db:
                row = inbox._row()
                uids = [u for (u,) in db.execute(
                    "SELECT uid FROM message WHERE mailbox_id = ?", (row[_ID],))]
                inbox.move_to(uids, dst.name)
            return
        with self.index.write() as db:
            if not os.path.lexists(src.path):
                raise NoSuchMailbox(f"Mailbox doesn't exist: {src.name}")
            if os.path.lexists(dst.path):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            probe = os.path.dirname(dst.path)
            while len(probe) > len(self.root):
                if os.path.isfile(probe):
                    raise StorageError("Mailbox doesn't allow inferior mailboxes")
                probe = os.path.dirname(probe)
            os.makedirs(os.path.dirname(dst.path), mode=0o700, exist_ok=True)
            os.rename(src.path, dst.path)
            for (child,) in db.execute("SELECT name FROM mailbox").fetchall():
                if child == src.name or child.startswith(src.name + "/"):
                    new_name = dst.name + child[len(src.name):]
                    stale = db.execute("SELECT id FROM mailbox WHERE name = ?",
                                       (new_name,)).fetchone()
                    if stale is not None:
                        self._drop_rows(db, stale[0])
                    db.execute("UPDATE mailbox SET name = ? WHERE name = ?", (new_name, child))

    # subscriptions ------------------------------------------------------------------

    def _subscriptions(self) -> Subscriptions:
        return Subscriptions(os.path.join(self.root, SUBSCRIPTIONS_FILE), self.index.write,
                             mutf7_encode, mutf7_decode, "/")

    def subscriptions(self) -> set[str]:
        return set(self._subscriptions().names())

    def subscribe(self, name: str) -> None:
        self._subscriptions().add(name)

    def unsubscribe(self, name: str) -> None:
        self._subscriptions().remove(name)

    # mailboxes --------------------------------------------------------------------------

    def status(self, name: str) -> StatusInfo:
        row = MboxMailbox(self._existing_folder(name), readonly=True)._row()
        messages, recent, unseen = self.index.db.execute(
            "SELECT count(*), coalesce(sum(uid >= ?), 0),"
            " coalesce(sum(instr(flags, '\\Seen') = 0), 0) FROM message WHERE mailbox_id = ?",
            (row[_FIRST_RECENT], row[_ID])).fetchone()
        return StatusInfo(messages, recent, row[_UIDNEXT], row[_UIDVALIDITY], unseen,
                          row[_MODSEQ])

    def open_mailbox(self, name: str, readonly: bool) -> Mailbox:
        folder = self._existing_folder(name)
        if os.path.isdir(folder.path):
            raise NoSuchMailbox(f"Mailbox isn't selectable: {folder.name}")
        return MboxMailbox(folder, readonly)

    def new_spool(self, target: str | None = None) -> SpoolFile:
        tmp = os.path.join(self.state_dir, "imapsession-tmp")
        os.makedirs(tmp, mode=0o700, exist_ok=True)
        return MaildirSpool(tmp)

    def append(self, name: str, message: bytes | SpoolFile, flags: frozenset[str],
               internal_date: datetime | None) -> AppendResult:
        try:
            folder = self._existing_folder(name)
            if os.path.isdir(folder.path):
                raise NoSuchMailbox(f"Mailbox isn't selectable: {folder.name}")
            wanted = _check_flags(flags)
            raw = message.read_all() if isinstance(message, SpoolFile) else message
        finally:
            if isinstance(message, SpoolFile):
                message.discard()
        date = None if internal_date is None else int(internal_date.timestamp()) * 1_000_000_000
        with self.index.write() as db:
            uidvalidity, uids = folder.append_many(db, [(raw, wanted, date)])
        return AppendResult(uidvalidity, uids[0])

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def open_mbox(root: str, inbox: str | None = None, *, create: bool = True) -> MailStore:
    """The user's mail: folders under ``root``, INBOX at ``inbox`` (``root/inbox`` if None)."""
    if not os.path.isdir(root):
        if not create:
            raise NoSuchMailbox(f"No mail directory at {root}")
        os.makedirs(root, mode=0o700, exist_ok=True)
    return MboxStore(root, inbox)
