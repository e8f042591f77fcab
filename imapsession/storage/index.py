"""The SQLite index: UIDs, flags, modseqs, tombstones and a per-message cache.

Theory of operation
-------------------
One database per user (``ROOT/imapsession.index.sqlite``) holds every mailbox,
so one transaction can cover a COPY from one mailbox into another. The mail
files stay the truth; the index remembers what files cannot: the UID of each
file (by its base name, the part before ``:2,``), UIDVALIDITY, UIDNEXT, a
modification sequence per message, tombstones for expunged UIDs and cached
sizes and dates. It can always be rebuilt from the files.

Durability: ``synchronous = FULL``, so every commit has fsynced the WAL before
``write()`` returns, hence before the command's tagged OK is written (a test
checks that order in an strace of STORE and APPEND); the cost is one fsync per
write transaction (bench figures in the commit that made it so).

Concurrency: WAL mode, so readers never wait for the one writer; every writer
takes ``BEGIN IMMEDIATE`` and holds it across its file operations, so the
database's write lock is also the lock that keeps files and rows in agreement
among our processes. A busy timeout (30 s) makes writers queue instead of fail.

WAL needs a local file system: its shared-memory file is mmapped and NFS does
not make that coherent between hosts. For a home on NFS, point ``index_path``
at a local disk (the index is a cache of facts recoverable from the files) or
open with ``journal_mode="DELETE"`` and a single host per user.

Versions: the tables and the numbered migrations are in ``index_schema.py``.
Opening an index older than the code runs the migrations it lacks, all in one
``BEGIN IMMEDIATE`` transaction after reading the versions again under the
lock (so of several processes opening it at once one migrates); a failure
rolls everything back and the open fails with ``IndexMigrationFailed``,
leaving the index as it was. UIDVALIDITY, UIDs, modseqs, tombstones, snapshots
and cache rows are untouched by design: migrations add, they do not rebuild.
An index whose compat version (meta ``schema``) is above this code's is left
alone and refused (``IndexTooNew``); one that is newer but compatible is used.
Only a file that is not a readable index (not SQLite, or garbage versions) is
set aside as ``.corrupt-*``, since that is the only case where starting over
from the files loses nothing the index could still have told. docs/INDEX.md
has the rules for writing a migration.

Modes: the database file is created by us before SQLite opens it, with the
mode the mail root gives (``modes.py``: 0600 under a 0700 root, whatever the
umask). SQLite then creates ``-wal`` and ``-shm`` with the database file's own
mode (its unix VFS fchmods them to it, past the umask), so the umask is never
touched (it is process-wide); after the open all three are tightened anyway, for
files an older version left 0644 and for the group of a shared maildir (SQLite
chowns only when it runs as root).

The schema is already what CONDSTORE/QRESYNC need: a modseq per message and per
mailbox, tombstones with the modseq of their expunge, and an index on
(mailbox, modseq) for "what changed since".
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import attrs

from imapsession import __version__, clock
from imapsession.storage.base import StorageError
from imapsession.storage.index_schema import (
    BASE_SCHEMA,
    BASE_VERSION,
    MIGRATIONS,
    Migration,
    check_order,
    run_script,
)
from imapsession.storage.modes import Modes

SCHEMA_VERSION = check_order(MIGRATIONS)  # this code's schema: its newest migration
BUSY_TIMEOUT_S = 30.0

log = logging.getLogger("imapsession.storage.index")


class IndexTooNew(StorageError):
    """The index was migrated by newer code in a way this code cannot follow.

    Left exactly as it is (never set aside: that would cost every client a full
    re-download); the session answers NO until the newer code runs again.
    """

    code = "UNAVAILABLE"


class IndexMigrationFailed(StorageError):
    """A migration step failed; rolled back, so the index is as it was before."""

    code = "SERVERBUG"


@attrs.frozen
class _Versions:
    compat: int  # meta 'schema': the oldest code schema that may use the index
    applied: int  # meta 'schema_version': the newest migration applied


class Index:
    """A connection to the user's index database, created, migrated or rebuilt as needed.

    ``migrations`` is the list this code knows (tests add steps to it); the
    last one's number is the code's schema version.
    """

    def __init__(
        self,
        path: str,
        *,
        journal_mode: str = "WAL",
        migrations: Sequence[Migration] = MIGRATIONS,
        modes: Modes | None = None,  # default: the rule of its directory
    ):
        self.path = path
        self.modes = modes if modes is not None else Modes.of(os.path.dirname(path) or ".")
        self.journal_mode = journal_mode
        self.migrations = tuple(migrations)
        self.version = check_order(self.migrations)
        self.fresh = False  # True when this open created the database
        # run first in every write transaction: a backend finishes or undoes there what
        # a killed writer left half-done (an intent record), before anything else looks
        self.on_lock: Callable[[sqlite3.Connection], None] | None = None
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
        if not self.modes.create_empty(self.path):  # an empty file is a new database to SQLite
            self.modes.tighten(self.path)  # before -wal/-shm are made from its mode
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]  # fails on a non-database
            if mode.upper() != self.journal_mode.upper():
                db.execute(f"PRAGMA journal_mode = {self.journal_mode}")
            for suffix in ("-wal", "-shm"):
                self.modes.tighten(self.path + suffix)
            # FULL, not NORMAL: in WAL mode NORMAL lets the last commits roll back on a power
            # loss, and what a tagged OK promised (a UID, a flag, an expunge) must be on
            # stable storage before it goes out; FULL fsyncs the WAL at every commit
            db.execute("PRAGMA synchronous = FULL")
            versions = self._versions(db)
            if versions is None or versions.applied < self.version:
                versions = self._upgrade(db)
            if versions.compat > self.version:
                message = (f"index {self.path} needs schema {versions.compat} or newer"
                           f" (it is at {versions.applied}); this program has schema"
                           f" {self.version}: left as it is")
                log.error("%s", message)
                raise IndexTooNew(message)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _versions(db: sqlite3.Connection) -> _Versions | None:
        """The index's versions, or None before version 1 was written."""
        try:
            rows = dict(db.execute(
                "SELECT key, value FROM meta WHERE key IN ('schema', 'schema_version')"))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        if "schema" not in rows:
            return None
        try:
            compat = int(rows["schema"])
            return _Versions(compat, int(rows.get("schema_version", compat)))
        except ValueError:
            raise sqlite3.DatabaseError(f"index schema {rows!r} is not a version") from None

    def _upgrade(self, db: sqlite3.Connection) -> _Versions:
        """Create version 1 if missing, then run the migrations it lacks, in one transaction.

        The versions are read again under the write lock: of several processes
        opening an old index at once one migrates, the others find it done.
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            versions = self._versions(db)
            applied: list[int] = []
            if versions is None:
                run_script(db, BASE_SCHEMA)
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                           (str(BASE_VERSION),))
                created = db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('created', ?)",
                    (str(clock.now()),),
                ).rowcount
                self.fresh = bool(created)
                versions = _Versions(BASE_VERSION, BASE_VERSION)
                applied.append(BASE_VERSION)
            if versions.applied < self.version and versions.compat <= self.version:
                before = versions.applied
                versions = self._migrate(db, versions, applied)
                if not self.fresh:
                    log.info("index %s migrated from schema %d to %d",
                             self.path, before, versions.applied)
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return versions

    def _migrate(self, db: sqlite3.Connection, versions: _Versions,
                 applied: list[int]) -> _Versions:
        """Run the pending steps inside the caller's transaction; any failure rolls all back."""
        compat = versions.compat
        step: Migration | None = None
        try:
            for step in self.migrations[versions.applied - BASE_VERSION:]:
                step.apply(db)
                compat = max(compat, step.compat)
                applied.append(step.version)
            step = None
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           [("schema", str(compat)), ("schema_version", str(self.version))])
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            db.executemany(
                "INSERT OR REPLACE INTO migration (version, applied_at, program) VALUES (?, ?, ?)",
                [(version, stamp, f"imapsession {__version__}") for version in applied],
            )
        except Exception as exc:
            what = f"migration {step.version} ({step.summary})" if step else "the migration log"
            message = (f"index {self.path}: {what} failed: {exc}; rolled back,"
                       f" the index stays at schema {versions.applied}")
            log.exception("%s", message)
            raise IndexMigrationFailed(message) from exc
        return _Versions(compat, self.version)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A writer's transaction; also the lock that serialises our file changes."""
        db = self.db
        if db.in_transaction:  # nested use inside one operation
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if self.on_lock is not None:
                self.on_lock(db)
            yield db
        except BaseException:
            if db.in_transaction:
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
            value = max(int(clock.now()), last + 1, at_least)
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
