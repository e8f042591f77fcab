"""The mailbox row both backends keep in the index, and dropping a mailbox's rows.

Columns of ``mailbox_row``: id, uidvalidity, uidnext, highest_modseq,
first_recent_uid, dir_ino, cur_mtime, new_mtime (what the last three stamp is
the backend's business: Maildir's cur/ and new/, the mbox file's inode, mtime
and size).
"""

from __future__ import annotations

import sqlite3

from imapsession.storage.base import StatusInfo


def mailbox_row(db: sqlite3.Connection, name: str) -> tuple | None:
    return db.execute(
        "SELECT id, uidvalidity, uidnext, highest_modseq, first_recent_uid, dir_ino,"
        " cur_mtime, new_mtime FROM mailbox WHERE name = ?",
        (name,),
    ).fetchone()


def drop_mailbox_rows(db: sqlite3.Connection, box_id: int, also: tuple[str, ...] = ()) -> None:
    """Forget a mailbox (the shared tables and the backend's ``also`` tables)."""
    for table in ("message", "tombstone", "message_cache", "snapshot", *also):
        db.execute(f"DELETE FROM {table} WHERE mailbox_id = ?", (box_id,))
    db.execute("DELETE FROM mailbox WHERE id = ?", (box_id,))


def status_of(db: sqlite3.Connection, row: tuple) -> StatusInfo:
    """STATUS counts for an up-to-date mailbox row (never claims \\Recent)."""
    messages, recent, unseen = db.execute(
        "SELECT count(*), coalesce(sum(uid >= ?), 0),"
        " coalesce(sum(instr(flags, '\\Seen') = 0), 0)"
        " FROM message WHERE mailbox_id = ?",
        (row[4], row[0]),
    ).fetchone()
    return StatusInfo(messages, recent, row[2], row[1], unseen, row[3])
