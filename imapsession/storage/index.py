"""The SQLite index: UIDs, flags, modseqs, tombstones and a per-message cache.

Theory of operation
-------------------
One database per user (``ROOT/imapsession.index.sqlite``) holds every mailbox,
so one transaction can cover a COPY from one mailbox into another. The mail
files stay the truth; the index remembers what files cannot: the UID of each
file (by its base name, the part before ``:2,``), UIDVALIDITY, UIDNEXT, a
modification sequence per message, tombstones for expunged UIDs and cached
sizes and dates. It can always be rebuilt from the files.

Concurrency: WAL mode, so readers never wait for the one writer; every writer
takes ``BEGIN IMMEDIATE`` and holds it across its file operations, so the
database's write lock is also the lock that keeps files and rows in agreement
among our processes. A busy timeout (30 s) makes writers queue instead of fail.

WAL needs a local file system: its shared-memory file is mmapped and NFS does
not make that coherent between hosts. For a home on NFS, point ``index_path``
at a local disk (the index is a cache of facts recoverable from the files) or
open with ``journal_mode="DELETE"`` and a single host per user.

The schema is already what CONDSTORE/QRESYNC need: a modseq per message and per
mailbox, tombstones with the modseq of their expunge, and an index on
(mailbox, modseq) for "what changed since".
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mailbox (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    first_recent_uid INTEGER NOT NULL,
    dir_ino INTEGER NOT NULL DEFAULT 0,   -- inode of cur/: a recreated folder is not this row
    cur_mtime INTEGER NOT NULL DEFAULT 0, -- ns, 0 = rescan on next sync
    new_mtime INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS message (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    base TEXT NOT NULL,          -- file name up to ':2,', stable across flag changes
    filename TEXT NOT NULL,      -- 'cur/<base>:2,<letters>' or 'new/<base>'
    flags TEXT NOT NULL,         -- space-separated, sorted, keywords by name
    modseq INTEGER NOT NULL,
    size INTEGER,                -- RFC822.SIZE (CRLF octets), NULL until known
    internal_date INTEGER,       -- ns since the epoch (file mtime), NULL until known
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS message_base ON message (mailbox_id, base);
CREATE INDEX IF NOT EXISTS message_modseq ON message (mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS tombstone (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstone_modseq ON tombstone (mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS snapshot (      -- the whole UID map at one modseq, packed,
    mailbox_id INTEGER PRIMARY KEY,          -- so a SELECT reads one row, not thousands
    modseq INTEGER NOT NULL,
    uids BLOB NOT NULL,                      -- array('I')
    modseqs BLOB NOT NULL,                   -- array('Q')
    flag_ids BLOB NOT NULL,                  -- array('I') into flag_sets
    flag_sets TEXT NOT NULL                  -- distinct flag texts, newline-separated
);
CREATE TABLE IF NOT EXISTS message_cache (   -- envelope, body structure, ... later
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    field TEXT NOT NULL,
    value BLOB,
    PRIMARY KEY (mailbox_id, uid, field)
) WITHOUT ROWID;
"""


class Index:
    """A connection to the user's index database, created or rebuilt as needed."""

    def __init__(self, path: str, *, journal_mode: str = "WAL"):
        self.path = path
        self.journal_mode = journal_mode
        self.fresh = False  # True when this open created the database
        self.db = self._open_checked()

    def _open_checked(self) -> sqlite3.Connection:
        try:
            return self._open_when_free()
        except sqlite3.OperationalError:
            raise  # busy or locked, not corrupt: never set a live index aside
        except sqlite3.DatabaseError:
            # Corrupt or foreign file: keep it for inspection, start over from the files.
            aside = f"{self.path}.corrupt-{int(time.time())}-{os.getpid()}"
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.rename(self.path + suffix, aside + suffix)
                except FileNotFoundError:
                    pass
            return self._open_when_free()

    def _open_when_free(self) -> sqlite3.Connection:
        """Open, retrying while other processes hold the database (many sessions
        starting at once on a new index all want to create it or switch it to WAL)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]  # fails on a non-database
            if mode.upper() != self.journal_mode.upper():
                db.execute(f"PRAGMA journal_mode = {self.journal_mode}")
            db.execute("PRAGMA synchronous = NORMAL")
            version = self._schema_version(db)
            if version is None:
                # Idempotent under the write lock: two first opens at once both succeed.
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                    (str(SCHEMA_VERSION),),
                )
                created = db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)",
                    (str(time.time()),),
                ).rowcount
                db.execute("COMMIT")
                self.fresh = bool(created)
                version = self._schema_version(db)
            if version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"index schema {version}, expected {SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> int | None:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if row is None else int(row[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A writer's transaction; also the lock that serialises our file changes."""
        db = self.db
        if db.in_transaction:  # nested use inside one operation
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def next_uidvalidity(self, at_least: int = 0) -> int:
        """A UIDVALIDITY never handed out before by this index (time-based like Dovecot's)."""
        with self.write() as db:
            last = int(self.get_meta("last_uidvalidity") or 0)
            value = max(int(time.time()), last + 1, at_least)
            value = min(value, 2**32 - 1)
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_uidvalidity', ?)",
                (str(value),),
            )
        return value

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass
