"""The index's schema: version 1's tables, then the numbered migrations after it.

Theory of operation
-------------------
``BASE_SCHEMA`` is the schema the first release wrote (version 1) and never
changes. Every later change is one ``Migration`` appended to ``MIGRATIONS``:
a new index is made by running version 1 and then every migration in order,
an old one by running the migrations it has not had, so the two paths cannot
drift apart. ``index.py`` runs them all in one ``BEGIN IMMEDIATE`` transaction
and records the outcome in ``meta`` (see docs/INDEX.md):

- ``schema``: the oldest code schema that can safely read and write this index
  (the *compat* version; the schema-1 release reads only this key and sets any
  value but ``1`` aside as corrupt, so an additive migration keeps it at 1);
- ``schema_version``: the newest migration applied (absent: 1).

A migration is *additive* (``compat`` stays 1) when code that does not know it
still reads and writes the index correctly: new tables, new columns with a
default, new indexes. Old code keeps writing rows beside new code during an
upgrade, so a new column must make sense at its default, and a row in a new
table must survive old code deleting or renumbering what it refers to. A
change old code would break (a column it must fill, a changed meaning) is
*breaking*: its ``compat`` is its own version, and older code then refuses
the index instead of using it.

Migrations run inside the caller's transaction: no ``COMMIT``, no
``executescript`` (it commits), nothing outside the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import attrs

BASE_VERSION = 1

BASE_SCHEMA = """
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


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the current transaction (unlike executescript)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@attrs.frozen
class Migration:
    """One schema change: from ``version - 1`` to ``version``.

    ``compat`` is the oldest code schema that still works with the index after
    it: ``BASE_VERSION`` for an additive change, ``version`` for a breaking one.
    """

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]
    compat: int = BASE_VERSION


def sql(script: str) -> Callable[[sqlite3.Connection], None]:
    """A migration step that is only SQL statements."""
    return lambda db: run_script(db, script)


# --- the migrations, oldest first; append, never edit one that has been released -----

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "schema_version key and the migration log",
        sql("""
        CREATE TABLE IF NOT EXISTS migration (  -- which version was applied when, by what
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL,             -- UTC, ISO 8601
            program TEXT NOT NULL                 -- e.g. 'imapsession 0.1.0'
        )
        """),
    ),
)


def check_order(migrations: tuple[Migration, ...]) -> int:
    """The schema version a list of migrations leads to; they must be numbered 2, 3, ..."""
    expected = BASE_VERSION + 1
    for step in migrations:
        if step.version != expected or not BASE_VERSION <= step.compat <= step.version:
            raise ValueError(f"migration {step.version} out of order (expected {expected})")
        expected += 1
    if migrations[:1] != MIGRATIONS[:1]:
        raise ValueError("migration 2 (the migration log) must come first")
    return expected - 1

