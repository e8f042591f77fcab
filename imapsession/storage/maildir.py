"""The Maildir++ backend: files as Dovecot and Courier lay them out, facts in the index.

Theory of operation
-------------------
Files are the truth. A message is ``cur/<base>:2,<letters>`` (or ``new/<base>``
before a read-write session has seen it); ``<base>`` never changes, so it is
the key the index maps UIDs to. Letters are the Maildir system flags in ASCII
order (D=Draft F=Flagged P=passed R=Answered S=Seen T=Deleted) followed by
keyword letters a-z, mapped through the folder's ``dovecot-keywords`` file
(``N name`` per line, letter ``chr(ord('a') + N)``), exactly as Dovecot does.
Letters we do not understand in upper case (P and others) are kept.

Every change happens inside the index's ``BEGIN IMMEDIATE`` transaction, so the
database write lock also serialises our file operations: among our processes a
file is never renamed under another writer's feet. Readers take no lock; if the
file they were told about has just been renamed they re-read the row, and if it
is still missing they rescan.

A sync first compares the mtimes of ``cur/`` and ``new/`` with the ones the last
scan recorded (only recorded when older than ``_DIRTY_SECONDS``, as Dovecot does,
since a change within the same clock tick would not move the mtime). Unchanged:
no directory is read. Changed: both are listed (``new/`` first, so a file moved
to ``cur/`` meanwhile is still seen), new base names get UIDs, renamed ones get
their flags re-read, vanished ones become tombstones. No message file is read;
sizes come lazily from ``,W=`` in the name or one read of the file in ``meta()``.

A full ``sync(0)`` (every SELECT) reads one packed row (``snapshot``: the UID
map as arrays at some modseq) plus the rows and tombstones newer than it, so a
second SELECT of a large mailbox costs one query and the record objects; a
reader rewrites the snapshot when it has fallen more than a few hundred changes
behind.

\\Recent uses ``first_recent_uid``: a read-write session's sync claims the UIDs
at or above it and moves it to UIDNEXT, in one transaction, so each message is
recent in exactly one session.

A maildir Dovecot kept opens with Dovecot's UIDVALIDITY and UIDs (from
``dovecot-uidlist``) the first time we ever index it. A marker file
(``imapsession.uidvalidity``, holding the last UIDVALIDITY given out, like
Dovecot's ``dovecot-uidvalidity``) tells a first open from a lost index: after a
loss the index is rebuilt with a fresh, strictly greater UIDVALIDITY (flags and
keywords live in the file names, so nothing else is lost).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import BinaryIO

from imapsession.storage import names
from imapsession.storage.base import (
    SYSTEM_FLAGS,
    AppendResult,
    CopyResult,
    InvalidMailboxName,
    LimitExceeded,
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
from imapsession.storage.subscriptions import Subscriptions

INDEX_NAME = "imapsession.index.sqlite"
MARKER_NAME = "imapsession.uidvalidity"  # exists once indexed; holds the last UIDVALIDITY
KEYWORDS_FILE = "dovecot-keywords"
UIDLIST_FILE = "dovecot-uidlist"
SUBSCRIPTIONS_FILE = "subscriptions"
MAX_KEYWORDS = 26
_DIRTY_SECONDS = 2.0
_CACHE_FLUSH = 256
_TRASH_PREFIX = "..imapsession-trash-"

_LETTER_TO_FLAG = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
_FLAG_TO_LETTER = {flag: letter for letter, flag in _LETTER_TO_FLAG.items()}
_EMPTY: frozenset[str] = frozenset()


# --- file names --------------------------------------------------------------------

_counter = 0


def _hostname() -> str:
    host = os.uname().nodename or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072")


def unique_base() -> str:
    """A Dovecot-style unique name: ``<time>.M<usec>P<pid>Q<n>.<host>``."""
    global _counter
    _counter += 1
    now = time.time()
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    return f"{sec}.M{usec}P{os.getpid()}Q{_counter}.{_hostname()}"


def split_name(filename: str) -> tuple[str, str]:
    """(base, letters) of a maildir file name; letters are empty without ``:2,``."""
    base, _, info = filename.partition(":")
    return base, info[2:] if info.startswith("2,") else ""


def vsize_from_base(base: str) -> int | None:
    """Dovecot's ``,W=<n>`` (size with CRLF line endings) when the name carries it."""
    for field in base.split(",")[1:]:
        if field.startswith("W=") and field[2:].isdigit():
            return int(field[2:])
    return None


def crlf_size(data: bytes, previous: int = -1) -> int:
    """Octets once every bare LF is CRLF; ``previous`` is the byte before ``data``."""
    extra = data.count(b"\n") - data.count(b"\r\n")
    if data[:1] == b"\n" and previous == 0x0D:
        extra -= 1
    return len(data) + extra


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- keywords ----------------------------------------------------------------------


class Keywords:
    """A folder's ``dovecot-keywords`` letter map, re-read only when the file changes."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, KEYWORDS_FILE)
        self.names: list[str | None] = []
        self._stamp: tuple[int, int] | None = None
        self._lower: dict[str, int] = {}

    def load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.names, self._lower, self._stamp = [], {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        slots: dict[int, str] = {}
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                number, _, keyword = line.rstrip("\n").partition(" ")
                if number.isdigit() and keyword and int(number) < MAX_KEYWORDS:
                    slots[int(number)] = keyword
        size = max(slots) + 1 if slots else 0
        self.names = [slots.get(i) for i in range(size)]
        self._lower = {k.lower(): i for i, k in enumerate(self.names) if k is not None}
        self._stamp = stamp

    def defined(self) -> tuple[str, ...]:
        return tuple(k for k in self.names if k is not None)

    def spelling(self, keyword: str) -> str:
        """The stored spelling of a keyword (IMAP keywords are case-insensitive)."""
        index = self._lower.get(keyword.lower())
        return keyword if index is None else self.names[index]  # type: ignore[return-value]

    def ensure(self, keywords: Iterable[str]) -> None:
        """Give each keyword a letter, writing the file; call under the index write lock."""
        self.load()
        missing = [k for k in keywords if k.lower() not in self._lower]
        if not missing:
            return
        names_now = list(self.names)
        for keyword in dict.fromkeys(missing):
            free = next((i for i, k in enumerate(names_now) if k is None), len(names_now))
            if free >= MAX_KEYWORDS:
                raise LimitExceeded(
                    f"Too many keywords in this mailbox (Maildir holds at most {MAX_KEYWORDS})"
                )
            if free == len(names_now):
                names_now.append(keyword)
            else:
                names_now[free] = keyword
        text = "".join(f"{i} {k}\n" for i, k in enumerate(names_now) if k is not None)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path)
        self._stamp = None
        self.load()

    def letters(self, flags: Iterable[str], keep: str = "") -> str:
        """The info letters for ``flags``, plus unknown upper-case letters from ``keep``."""
        chars = {c for c in keep if c.isupper() and c not in _LETTER_TO_FLAG}
        for flag in flags:
            letter = _FLAG_TO_LETTER.get(flag)
            if letter is None:
                index = self._lower.get(flag.lower())
                if index is None:
                    raise StorageError(f"keyword {flag} has no letter")  # ensure() first
                letter = chr(ord("a") + index)
            chars.add(letter)
        return "".join(sorted(chars))

    def flags(self, letters: str) -> frozenset[str]:
        out = set()
        for letter in letters:
            flag = _LETTER_TO_FLAG.get(letter)
            if flag is not None:
                out.add(flag)
            elif "a" <= letter <= "z":
                index = ord(letter) - ord("a")
                if index < len(self.names) and self.names[index] is not None:
                    out.add(self.names[index])
        return frozenset(out)


# --- Dovecot's uidlist -------------------------------------------------------------


def read_dovecot_uidlist(folder: str) -> tuple[int, int, dict[str, int]] | None:
    """(uidvalidity, uidnext, base -> uid) from ``dovecot-uidlist`` v1 or v3, or None."""
    try:
        with open(os.path.join(folder, UIDLIST_FILE), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    if not lines:
        return None
    header = lines[0].split()
    try:
        if header[0] == "3":
            fields = {item[0]: item[1:] for item in header[1:] if item}
            uidvalidity, uidnext = int(fields["V"]), int(fields["N"])
        elif header[0] == "1":
            uidvalidity, uidnext = int(header[1]), int(header[2])
        else:
            return None
    except (KeyError, ValueError, IndexError):
        return None
    uids: dict[str, int] = {}
    for line in lines[1:]:
        number, _, rest = line.partition(" ")
        if not number.isdigit():
            continue
        head, colon, filename = rest.partition(":")
        if not colon:  # version 1, or a v3 line without extension fields
            filename = rest.split(" ")[-1] if header[0] == "1" else head.strip()
        base = filename.partition(":")[0].strip()
        if base:
            uids[base] = int(number)
    if uids:
        uidnext = max(uidnext, max(uids.values()) + 1)
    return uidvalidity, uidnext, uids


# --- spool -------------------------------------------------------------------------


class MaildirSpool(SpoolFile):
    """An APPEND literal streamed into a folder's tmp/; ``append`` renames it into place."""

    def __init__(self, tmp_dir: str):
        self.path = os.path.join(tmp_dir, unique_base())
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._size = 0
        self.vsize = 0
        self._last = -1

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise StorageError("spool already closed")
        if not chunk:
            return
        self._file.write(chunk)
        self._size += len(chunk)
        self.vsize += crlf_size(chunk, self._last)
        self._last = chunk[-1]

    @property
    def size(self) -> int:
        return self._size

    def read_all(self) -> bytes:
        if self._file is not None:
            self._file.flush()
        with open(self.path, "rb") as handle:
            return handle.read()

    def finish(self) -> str:
        """Flush and fsync; the path is then ready to be linked into new/ or cur/."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _write_tmp(tmp_dir: str, data: bytes) -> str:
    spool = MaildirSpool(tmp_dir)
    try:
        spool.write(data)
        return spool.finish()
    except BaseException:
        spool.discard()
        raise


def _link_unique(src: str, folder: str, subdir: str, stem: str, letters: str | None) -> str:
    """Hard-link ``src`` into ``folder/subdir`` under a fresh unique name; returns 'sub/name'.

    ``stem`` is the size suffix (``,S=..,W=..``); a name collision retries with a new base.
    """
    for _ in range(100):
        base = unique_base() + stem
        name = base if letters is None else f"{base}:2,{letters}"
        try:
            os.link(src, os.path.join(folder, subdir, name))
            return f"{subdir}/{name}"
        except FileExistsError:
            continue
    raise StorageError("could not find a unique file name")


def _size_stem(size: int, vsize: int | None) -> str:
    return f",S={size}" + ("" if vsize is None else f",W={vsize}")


# --- one folder's index bookkeeping ------------------------------------------------


class _Folder:
    """The index rows and directory state of one mailbox; shared by store and mailbox."""

    def __init__(self, store: MaildirStore, name: str, path: str):
        self.store = store
        self.name = name
        self.path = path
        self.keywords = Keywords(path)

    # mailbox row ------------------------------------------------------------------

    def row(self) -> tuple | None:
        return self.store.index.db.execute(
            "SELECT id, uidvalidity, uidnext, highest_modseq, first_recent_uid, dir_ino,"
            " cur_mtime, new_mtime FROM mailbox WHERE name = ?",
            (self.name,),
        ).fetchone()

    def _dir_stats(self) -> tuple[os.stat_result, os.stat_result]:
        try:
            return os.stat(os.path.join(self.path, "cur")), os.stat(os.path.join(self.path, "new"))
        except FileNotFoundError:
            raise NoSuchMailbox(f"Mailbox doesn't exist: {self.name}") from None

    def fresh(self, row: tuple | None) -> bool:
        """True when the row exists and the directories have not changed since its scan."""
        if row is None:
            return False
        cur, new = self._dir_stats()
        return cur.st_ino == row[5] and cur.st_mtime_ns == row[6] and new.st_mtime_ns == row[7]

    def ensure(self, db: sqlite3.Connection, *, move_new: bool) -> tuple:
        """The up-to-date mailbox row (created and scanned as needed); call in a write txn."""
        row = self.row()
        cur, _ = self._dir_stats()
        if row is not None and row[5] != cur.st_ino:
            self.store._drop_rows(db, row[0])  # a different folder now has this name
            row = None
        imported: dict[str, int] = {}
        if row is None:
            uidlist = None
            if self.store.dovecot_import:
                uidlist = read_dovecot_uidlist(self.path)
            if uidlist is not None:
                uidvalidity, uidnext, imported = uidlist
                first_recent = uidnext
            else:
                legacy = read_dovecot_uidlist(self.path)
                at_least = max(legacy[0] + 1 if legacy else 0, self.store._last_uidvalidity() + 1)
                uidvalidity = self.store.index.next_uidvalidity(at_least)
                self.store._remember_uidvalidity(uidvalidity)
                uidnext, first_recent = 1, 1
            db.execute(
                "INSERT INTO mailbox (name, uidvalidity, uidnext, highest_modseq,"
                " first_recent_uid, dir_ino) VALUES (?, ?, ?, 1, ?, ?)",
                (self.name, uidvalidity, uidnext, first_recent, cur.st_ino),
            )
            row = self.row()
        elif self.fresh(row):
            return row
        self.scan(db, row, move_new=move_new, imported=imported)
        return self.row()  # type: ignore[return-value]

    # directory scan ----------------------------------------------------------------

    def _list(self) -> dict[str, str]:
        """base -> 'new/<name>' or 'cur/<name>' for every message file on disk."""
        found: dict[str, str] = {}
        for sub in ("new", "cur"):  # new/ first: a file moved to cur/ meanwhile is still seen
            for entry in os.listdir(os.path.join(self.path, sub)):
                if entry.startswith("."):
                    continue
                found[entry.partition(":")[0]] = f"{sub}/{entry}"
        return found

    def scan(
        self,
        db: sqlite3.Connection,
        row: tuple,
        *,
        move_new: bool,
        imported: dict[str, int] | None = None,
    ) -> None:
        """Bring the UID map in line with the files; call inside a write transaction."""
        box_id, _, uidnext, modseq = row[0], row[1], row[2], row[3]
        cur_st, new_st = self._dir_stats()
        disk = self._list()
        self.keywords.load()
        known = {
            base: (uid, filename, flag_text)
            for uid, base, filename, flag_text in db.execute(
                "SELECT uid, base, filename, flags FROM message WHERE mailbox_id = ?", (box_id,)
            )
        }
        gone = [base for base in known if base not in disk]
        if gone:  # readdir may miss an entry renamed meanwhile by another program: look again
            disk = self._list()
            gone = [base for base in known if base not in disk]
        new_modseq = modseq + 1
        changed = False
        for base in gone:
            uid = known[base][0]
            self.store._tombstone(db, box_id, uid, new_modseq)
            changed = True
        for base, filename in disk.items():
            entry = known.get(base)
            if entry is not None:
                if entry[1] != filename:
                    text = _flag_text(self.keywords.flags(split_name(filename.split("/", 1)[1])[1]))
                    if text == entry[2]:  # moved new/ -> cur/ or an unknown letter changed
                        db.execute(
                            "UPDATE message SET filename = ? WHERE mailbox_id = ? AND uid = ?",
                            (filename, box_id, entry[0]),
                        )
                    else:
                        db.execute(
                            "UPDATE message SET filename = ?, flags = ?, modseq = ?"
                            " WHERE mailbox_id = ? AND uid = ?",
                            (filename, text, new_modseq, box_id, entry[0]),
                        )
                        changed = True
        imported = imported or {}
        fresh = [b for b in disk if b not in known]
        # like Dovecot: new mail gets UIDs in file-name order across cur/ and new/
        fresh.sort(key=lambda b: (imported.get(b, 1 << 40), b))
        for base in fresh:
            filename = disk[base]
            if move_new and filename.startswith("new/"):
                filename = self._move_to_cur(filename)
                if filename is None:
                    continue
            uid = imported.get(base)
            if uid is None or uid < 1 or db.execute(
                "SELECT 1 FROM message WHERE mailbox_id = ? AND uid = ?", (box_id, uid)
            ).fetchone():
                uid = uidnext
            uidnext = max(uidnext, uid + 1)
            flags = self.keywords.flags(split_name(filename.split("/", 1)[1])[1])
            db.execute(
                "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (box_id, uid, base, filename, _flag_text(flags), new_modseq),
            )
            changed = True
        if move_new:
            for base, filename in disk.items():  # indexed earlier by a read-only session
                if base in known and filename.startswith("new/"):
                    moved = self._move_to_cur(filename)
                    if moved is not None:
                        db.execute(
                            "UPDATE message SET filename = ? WHERE mailbox_id = ? AND base = ?",
                            (moved, box_id, base),
                        )
        # Record the mtimes seen before listing, unless too recent to be trusted.
        limit = time.time_ns() - int(_DIRTY_SECONDS * 1e9)
        moved_any = move_new and any(f.startswith("new/") for f in disk.values())
        trusted = cur_st.st_mtime_ns < limit and new_st.st_mtime_ns < limit and not moved_any
        db.execute(
            "UPDATE mailbox SET uidnext = ?, highest_modseq = ?, cur_mtime = ?, new_mtime = ?"
            " WHERE id = ?",
            (
                uidnext,
                new_modseq if changed else modseq,
                cur_st.st_mtime_ns if trusted else 0,
                new_st.st_mtime_ns if trusted else 0,
                box_id,
            ),
        )

    def _move_to_cur(self, filename: str) -> str | None:
        """new/x -> cur/x:2, (keeping any info); None if the file vanished."""
        name = filename.split("/", 1)[1]
        target = name if ":" in name else name + ":2,"
        try:
            os.rename(os.path.join(self.path, filename), os.path.join(self.path, "cur", target))
        except FileNotFoundError:
            found = self._list().get(name.partition(":")[0])
            return found
        return f"cur/{target}"

    def locate(self, base: str) -> str | None:
        return self._list().get(base)


def _flag_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))


_flag_sets: dict[str, frozenset[str]] = {"": _EMPTY}


def _flag_set(text: str) -> frozenset[str]:
    value = _flag_sets.get(text)
    if value is None:
        value = _flag_sets[text] = frozenset(text.split())
    return value


def _check_flags(flags: Iterable[str]) -> frozenset[str]:
    out = set()
    for flag in flags:
        if flag.startswith("\\"):
            if flag.lower() == "\\recent":
                continue
            canonical = next((f for f in SYSTEM_FLAGS if f.lower() == flag.lower()), None)
            if canonical is None:
                raise StorageError(f"Invalid system flag {flag}")
            out.add(canonical)
        elif not flag or any(c in _NOT_IN_KEYWORD or ord(c) < 0x20 or ord(c) > 0x7E for c in flag):
            # A keyword must fit one line of dovecot-keywords and one IMAP atom.
            raise StorageError(f"Invalid keyword {flag!r}")
        else:
            out.add(flag)
    return frozenset(out)


_NOT_IN_KEYWORD = set(' (){%*"\\]')


_SNAPSHOT_SLACK = 200  # changes since the snapshot before a reader rewrites it


def changes_since(
    db: sqlite3.Connection, box_id: int, since_modseq: int, highest: int
) -> tuple[tuple[MessageRecord, ...], tuple[int, ...], bool]:
    """The index's answer to ``sync(since)`` for every backend: records changed after
    ``since_modseq`` (all of them for 0, from the packed snapshot), UIDs expunged after
    it, and whether the snapshot is stale (the caller saves it once the read
    transaction that also read ``highest`` is over)."""
    if since_modseq == 0 and highest > 0:
        changed, stale = _all_records(db, box_id)
        return changed, (), stale
    if since_modseq >= highest:
        return (), (), False
    changed = tuple(
        MessageRecord(uid, _flag_set(flags), modseq)
        for uid, flags, modseq in db.execute(
            "SELECT uid, flags, modseq FROM message"
            " WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
            (box_id, since_modseq),
        )
    )
    expunged: tuple[int, ...] = ()
    if since_modseq > 0:
        expunged = tuple(
            uid
            for (uid,) in db.execute(
                "SELECT uid FROM tombstone WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
                (box_id, since_modseq),
            )
        )
    return changed, expunged, False


def _all_records(db: sqlite3.Connection, box_id: int) -> tuple[tuple[MessageRecord, ...], bool]:
    """Every message, from the packed snapshot plus the changes after it; (records, stale)."""
    from array import array

    snap = db.execute(
        "SELECT modseq, uids, modseqs, flag_ids, flag_sets FROM snapshot WHERE mailbox_id = ?",
        (box_id,),
    ).fetchone()
    if snap is None:
        rows = db.execute(
            "SELECT uid, flags, modseq FROM message WHERE mailbox_id = ? ORDER BY uid", (box_id,)
        ).fetchall()
        return tuple(MessageRecord(u, _flag_set(f), m) for u, f, m in rows), True
    base_modseq, raw_uids, raw_modseqs, raw_ids, texts = snap
    uids, modseqs, ids = array("I"), array("Q"), array("I")
    uids.frombytes(raw_uids)
    modseqs.frombytes(raw_modseqs)
    ids.frombytes(raw_ids)
    sets = [_flag_set(t) for t in texts.split("\n")]
    delta = db.execute(
        "SELECT uid, flags, modseq FROM message WHERE mailbox_id = ? AND modseq > ?",
        (box_id, base_modseq),
    ).fetchall()
    gone = db.execute(
        "SELECT uid FROM tombstone WHERE mailbox_id = ? AND modseq > ?", (box_id, base_modseq)
    ).fetchall()
    if not delta and not gone:
        flag_list = [sets[i] for i in ids.tolist()]
        return tuple(map(MessageRecord, uids.tolist(), flag_list, modseqs.tolist())), False
    merged = {
        u: (sets[i], m) for u, i, m in zip(uids.tolist(), ids.tolist(), modseqs.tolist(), strict=True)
    }
    for (uid,) in gone:
        merged.pop(uid, None)
    for uid, flags, modseq in delta:
        merged[uid] = (_flag_set(flags), modseq)
    records = tuple(MessageRecord(u, *merged[u]) for u in sorted(merged))
    return records, len(delta) + len(gone) > _SNAPSHOT_SLACK


def _save_snapshot(
    index: Index, box_id: int, modseq: int, records: tuple[MessageRecord, ...]
) -> None:
    """Pack the UID map as of ``modseq`` so the next full sync reads one row."""
    from array import array

    texts: dict[frozenset[str], int] = {}
    ids = array("I", [texts.setdefault(r.flags, len(texts)) for r in records])
    with index.write() as db:
        db.execute(
            "INSERT OR REPLACE INTO snapshot (mailbox_id, modseq, uids, modseqs, flag_ids,"
            " flag_sets) VALUES (?, ?, ?, ?, ?, ?)",
            (
                box_id,
                modseq,
                array("I", [r.uid for r in records]).tobytes(),
                array("Q", [r.modseq for r in records]).tobytes(),
                ids.tobytes(),
                "\n".join(_flag_text(f) for f in texts),
            ),
        )


def _datetime_from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).astimezone()


# --- the mailbox -------------------------------------------------------------------


class MaildirMailbox(Mailbox):
    """One selected (or examined) mailbox of one session."""

    def __init__(self, folder: _Folder, readonly: bool):
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
            with self._store.index.write() as db:
                row = self._folder.row()
                assert row is not None
                claimed = [
                    uid
                    for (uid,) in db.execute(
                        "SELECT uid FROM message WHERE mailbox_id = ? AND uid >= ?",
                        (box_id, row[4]),
                    )
                ]
                db.execute(
                    "UPDATE mailbox SET first_recent_uid = uidnext WHERE id = ?", (box_id,)
                )
            recent = frozenset(claimed)
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
            _save_snapshot(self._store.index, box_id, highest, changed)
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
            return MessageMeta(pending[0], _datetime_from_ns(pending[1]))
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
            return MessageMeta(known[0], _datetime_from_ns(known[1]))
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
        return MessageMeta(size, _datetime_from_ns(date))

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
        wanted = _check_flags(flags)
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
                old = _flag_set(flag_text)
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
                    self._store._tombstone(db, box_id, uid, modseq)
                    bumped = True
                    continue
                db.execute(
                    "UPDATE message SET filename = ?, flags = ?, modseq = ?"
                    " WHERE mailbox_id = ? AND uid = ?",
                    (target, _flag_text(new), modseq, box_id, uid),
                )
                bumped = True
                done.append(MessageRecord(uid, new, modseq))
            if bumped:
                db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
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
            return self._remove(db, row, chosen)

    def _remove(self, db: sqlite3.Connection, row: tuple, uids: list[int]) -> list[int]:
        """Unlink files and write tombstones; call inside a write transaction."""
        box_id, modseq = row[0], row[3] + 1
        removed = []
        for uid in sorted(set(uids)):
            msg = db.execute(
                "SELECT filename, base FROM message WHERE mailbox_id = ? AND uid = ?",
                (box_id, uid),
            ).fetchone()
            if msg is None:
                continue
            try:
                os.unlink(os.path.join(self._folder.path, msg[0]))
            except FileNotFoundError:
                found = self._folder.locate(msg[1])
                if found is not None:
                    os.unlink(os.path.join(self._folder.path, found))
            self._store._tombstone(db, box_id, uid, modseq)
            removed.append(uid)
        if removed:
            db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
        return removed

    def copy_to(self, uids: Iterable[int], target: str) -> CopyResult:
        with self._store.index.write() as db:
            return self._copy(db, uids, target)

    def _copy(self, db: sqlite3.Connection, uids: Iterable[int], target: str) -> CopyResult:
        store, folder = self._store, self._folder
        dest = store._existing_folder(target)
        src_row = folder.ensure(db, move_new=not self.readonly)
        dest_row = dest.ensure(db, move_new=False)
        rows = []
        for uid in sorted(set(uids)):
            msg = db.execute(
                "SELECT base, filename, flags, size, internal_date FROM message"
                " WHERE mailbox_id = ? AND uid = ?",
                (src_row[0], uid),
            ).fetchone()
            if msg is not None:
                rows.append((uid, *msg))
        keywords = {f for r in rows for f in _flag_set(r[3]) if f not in SYSTEM_FLAGS}
        dest.keywords.ensure(sorted(keywords))
        dest_id, uidnext, modseq = dest_row[0], dest_row[2], dest_row[3] + 1
        source_uids, target_uids = [], []
        for uid, base, filename, flag_text, size, date in rows:
            src = os.path.join(folder.path, filename)
            if not os.path.exists(src):
                found = folder.locate(base)
                if found is None:
                    continue
                src = os.path.join(folder.path, found)
            flags = frozenset(dest.keywords.spelling(f) for f in _flag_set(flag_text))
            letters = dest.keywords.letters(flags)
            vsize = size if size is not None else vsize_from_base(base)
            try:
                stem = _size_stem(os.stat(src).st_size, vsize)
                try:
                    new_name = _link_unique(src, dest.path, "cur", stem, letters)
                except OSError as exc:
                    if exc.errno not in _NO_LINK:
                        raise
                    new_name = _copy_file(src, dest.path, stem, letters)
            except FileNotFoundError:
                continue
            if date is None:
                date = os.stat(os.path.join(dest.path, new_name)).st_mtime_ns
            db.execute(
                "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq, size,"
                " internal_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dest_id,
                    uidnext,
                    new_name.split("/", 1)[1].partition(":")[0],
                    new_name,
                    _flag_text(flags),
                    modseq,
                    vsize,
                    date,
                ),
            )
            source_uids.append(uid)
            target_uids.append(uidnext)
            uidnext += 1
        if target_uids:
            db.execute(
                "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                (uidnext, modseq, dest_id),
            )
        return CopyResult(dest_row[1], tuple(source_uids), tuple(target_uids))

    def move_to(self, uids: Iterable[int], target: str) -> CopyResult:
        self._writable()
        with self._store.index.write() as db:
            result = self._copy(db, uids, target)
            row = self._folder.row()
            assert row is not None
            self._remove(db, row, list(result.source_uids))
        return result

    def close(self) -> None:
        self._flush_cache()


_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def _copy_file(src: str, folder: str, stem: str, letters: str | None, sub: str = "cur") -> str:
    """Cross-file-system copy: tmp/, fsync, same mtime, then link into cur/ (or new/)."""
    spool = MaildirSpool(os.path.join(folder, "tmp"))
    try:
        with open(src, "rb") as handle:
            while chunk := handle.read(1 << 20):
                spool.write(chunk)
        path = spool.finish()
        st = os.stat(src)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return _link_unique(path, folder, sub, stem, letters)
    finally:
        spool.discard()


# --- the store ---------------------------------------------------------------------


class MaildirStore(MailStore):
    """One user's Maildir++ tree and its index."""

    def __init__(self, root: str, index_path: str | None = None):
        self.root = os.path.abspath(root)
        self._index_path = index_path or os.path.join(self.root, INDEX_NAME)
        self._index: Index | None = None
        self.dovecot_import = False

    @property
    def index(self) -> Index:
        if self._index is None:
            index = Index(self._index_path)
            marker = os.path.join(self.root, MARKER_NAME)
            if index.fresh:
                # First index ever for this maildir: Dovecot's UIDs may be adopted.
                # A fresh index beside an existing marker means the old one was lost.
                index.set_meta("dovecot_import", "0" if os.path.exists(marker) else "1")
                with open(marker, "a"):
                    pass
            self.dovecot_import = index.get_meta("dovecot_import") == "1"
            self._index = index
        return self._index

    # helpers --------------------------------------------------------------------------

    def _last_uidvalidity(self) -> int:
        """The last UIDVALIDITY handed out, kept beside the index so a lost index can't reuse it."""
        try:
            with open(os.path.join(self.root, MARKER_NAME), encoding="ascii") as handle:
                text = handle.read().strip()
        except (OSError, UnicodeDecodeError):
            return 0
        return int(text) if text.isdigit() else 0

    def _remember_uidvalidity(self, value: int) -> None:
        path = os.path.join(self.root, MARKER_NAME)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(f"{value}\n")
        os.rename(tmp, path)

    def _folder(self, name: str) -> _Folder:
        canonical = names.normalize(name)
        return _Folder(self, canonical, names.folder_path(self.root, canonical))

    def _existing_folder(self, name: str) -> _Folder:
        folder = self._folder(name)
        if not os.path.isdir(os.path.join(folder.path, "cur")):
            raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
        return folder

    def _tombstone(self, db: sqlite3.Connection, box_id: int, uid: int, modseq: int) -> None:
        db.execute("DELETE FROM message WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
        db.execute("DELETE FROM message_cache WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
        db.execute(
            "INSERT OR REPLACE INTO tombstone (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
            (box_id, uid, modseq),
        )

    def _drop_rows(self, db: sqlite3.Connection, box_id: int) -> None:
        for table in ("message", "tombstone", "message_cache", "snapshot"):
            db.execute(f"DELETE FROM {table} WHERE mailbox_id = ?", (box_id,))
        db.execute("DELETE FROM mailbox WHERE id = ?", (box_id,))

    def _folder_entries(self) -> dict[str, tuple[str, bool]]:
        """name -> (directory entry, selectable) for every folder under the root."""
        out: dict[str, tuple[str, bool]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                name = names.name_from_dirname(entry.name)
                if name is None or name == "INBOX":
                    continue
                out[name] = (entry.name, os.path.isdir(os.path.join(entry.path, "cur")))
        return out

    # tree -----------------------------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        folders = self._folder_entries()
        selectable = {name: sel for name, (_, sel) in folders.items()}
        selectable["INBOX"] = True
        for name in list(selectable):
            parts = name.split("/")
            for i in range(1, len(parts)):
                selectable.setdefault("/".join(parts[:i]), False)
        parents = {name.rsplit("/", 1)[0] for name in selectable if "/" in name}
        ordered = sorted(selectable, key=lambda n: (n != "INBOX", n))
        return [MailboxInfo(n, selectable[n], n in parents) for n in ordered]

    def create_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        with self.index.write():
            if os.path.isdir(os.path.join(folder.path, "cur")):
                raise MailboxExists(f"Mailbox already exists: {folder.name}")
            os.makedirs(folder.path, mode=0o700, exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(folder.path, sub), mode=0o700, exist_ok=True)
            with open(os.path.join(folder.path, "maildirfolder"), "a"):
                pass

    def _children(self, name: str) -> list[tuple[str, str]]:
        prefix = name + "/"
        return [(n, e) for n, (e, _) in self._folder_entries().items() if n.startswith(prefix)]

    def delete_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise StorageError("INBOX can't be deleted.")
        with self.index.write() as db:
            exists = os.path.isdir(folder.path)
            selectable = os.path.isdir(os.path.join(folder.path, "cur"))
            children = self._children(folder.name)
            if not selectable and children:
                raise MailboxNotEmpty(
                    f"Mailbox {folder.name} has children and is not selectable;"
                    " delete its children first"
                )
            if not exists:
                raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
            # Maildir++ parents are implied by their children, so removing the folder
            # leaves a non-selectable parent when children exist (RFC 3501 6.3.4).
            trash = os.path.join(self.root, _TRASH_PREFIX + unique_base())
            os.rename(folder.path, trash)
            row = folder.row()
            if row is not None:
                self._drop_rows(db, row[0])
        import shutil  # only DELETE needs it; keep session start-up lean

        shutil.rmtree(trash, ignore_errors=True)

    def rename_mailbox(self, old: str, new: str) -> None:
        src = self._folder(old)
        dst = self._folder(new)
        if dst.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        if src.name == dst.name:
            raise MailboxExists(f"Mailbox already exists: {dst.name}")
        if src.name == "INBOX":
            self._rename_inbox(dst)
            return
        if dst.name.startswith(src.name + "/"):
            raise InvalidMailboxName("Can't rename a mailbox under itself")
        with self.index.write() as db:
            if os.path.isdir(dst.path) or self._children(dst.name):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            moves = [(src.name, os.path.basename(src.path))] if os.path.isdir(src.path) else []
            moves += self._children(src.name)
            if not moves:
                raise NoSuchMailbox(f"Mailbox doesn't exist: {src.name}")
            plan = []
            for child, entry in moves:
                new_name = dst.name + child[len(src.name) :]
                plan.append((entry, self._folder(new_name).path, child, new_name))
            for entry, new_path, _, _ in plan:
                os.rename(os.path.join(self.root, entry), new_path)
            for _, _, child, new_name in plan:
                stale = db.execute("SELECT id FROM mailbox WHERE name = ?", (new_name,)).fetchone()
                if stale is not None:
                    self._drop_rows(db, stale[0])
                db.execute("UPDATE mailbox SET name = ? WHERE name = ?", (new_name, child))

    def _rename_inbox(self, dst: _Folder) -> None:
        with self.index.write() as db:
            if os.path.isdir(dst.path):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            self.create_mailbox(dst.name)
            inbox = MaildirMailbox(self._folder("INBOX"), readonly=False)
            row = inbox._folder.ensure(db, move_new=True)
            uids = [u for (u,) in db.execute("SELECT uid FROM message WHERE mailbox_id = ?", (row[0],))]
            inbox.move_to(uids, dst.name)

    # subscriptions ----------------------------------------------------------------------

    def _subscriptions(self) -> Subscriptions:
        return Subscriptions(os.path.join(self.root, SUBSCRIPTIONS_FILE), self.index.write,
                             names.encode_component, names.decode_component, ".")

    def subscriptions(self) -> set[str]:
        return set(self._subscriptions().names())

    def subscribe(self, name: str) -> None:
        self._subscriptions().add(name)

    def unsubscribe(self, name: str) -> None:
        self._subscriptions().remove(name)

    # mailboxes ----------------------------------------------------------------------

    def status(self, name: str) -> StatusInfo:
        folder = self._existing_folder(name)
        row = folder.row()
        if not folder.fresh(row):
            with self.index.write() as db:
                row = folder.ensure(db, move_new=False)
        assert row is not None
        box_id = row[0]
        messages, recent, unseen = self.index.db.execute(
            "SELECT count(*), coalesce(sum(uid >= ?), 0),"
            " coalesce(sum(instr(flags, '\\Seen') = 0), 0)"
            " FROM message WHERE mailbox_id = ?",
            (row[4], box_id),
        ).fetchone()
        return StatusInfo(messages, recent, row[2], row[1], unseen, row[3])

    def open_mailbox(self, name: str, readonly: bool) -> Mailbox:
        return MaildirMailbox(self._existing_folder(name), readonly)

    def new_spool(self, target: str | None = None) -> SpoolFile:
        tmp = os.path.join(self.root, "tmp")
        if target is not None:
            try:
                candidate = os.path.join(self._folder(target).path, "tmp")
                if os.path.isdir(candidate):
                    tmp = candidate
            except InvalidMailboxName:
                pass
        return MaildirSpool(tmp)

    def append(
        self,
        name: str,
        message: bytes | SpoolFile,
        flags: frozenset[str],
        internal_date: datetime | None,
    ) -> AppendResult:
        try:
            folder = self._existing_folder(name)
            wanted = _check_flags(flags)
            if isinstance(message, MaildirSpool):
                spool = message
            elif isinstance(message, SpoolFile):
                spool = MaildirSpool(os.path.join(folder.path, "tmp"))
                spool.write(message.read_all())
                message.discard()
            else:
                spool = MaildirSpool(os.path.join(folder.path, "tmp"))
                spool.write(message)
        except BaseException:
            if isinstance(message, SpoolFile):
                message.discard()
            raise
        try:
            path = spool.finish()
            if internal_date is not None:
                stamp = internal_date.timestamp()
                os.utime(path, (stamp, stamp))
            st = os.stat(path)
            stem = _size_stem(spool.size, spool.vsize)
            with self.index.write() as db:
                row = folder.row()
                if row is None or row[5] != os.stat(os.path.join(folder.path, "cur")).st_ino:
                    row = folder.ensure(db, move_new=False)
                folder.keywords.ensure(sorted(f for f in wanted if f not in SYSTEM_FLAGS))
                wanted = frozenset(
                    f if f in SYSTEM_FLAGS else folder.keywords.spelling(f) for f in wanted
                )
                sub, letters = ("cur", folder.keywords.letters(wanted)) if wanted else ("new", None)
                try:
                    final = _link_unique(path, folder.path, sub, stem, letters)
                except OSError as exc:
                    if exc.errno not in _NO_LINK:  # spool on another file system: copy it
                        raise
                    final = _copy_file(path, folder.path, stem, letters, sub)
                uid, modseq = row[2], row[3] + 1
                db.execute(
                    "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq, size,"
                    " internal_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row[0],
                        uid,
                        final.split("/", 1)[1].partition(":")[0],
                        final,
                        _flag_text(wanted),
                        modseq,
                        spool.vsize,
                        st.st_mtime_ns,
                    ),
                )
                db.execute(
                    "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                    (uid + 1, modseq, row[0]),
                )
            _fsync_dir(os.path.dirname(os.path.join(folder.path, final)))
            return AppendResult(row[1], uid)
        finally:
            spool.discard()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def open_maildir(root: str, *, create: bool = True) -> MailStore:
    """The user's mail at ``root`` (a Maildir; cur/ new/ tmp/ are made when ``create``)."""
    for sub in ("cur", "new", "tmp"):
        path = os.path.join(root, sub)
        if not os.path.isdir(path):
            if not create:
                raise NoSuchMailbox(f"No maildir at {root}")
            os.makedirs(path, mode=0o700, exist_ok=True)
    return MaildirStore(root)
