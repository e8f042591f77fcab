"""Removing messages from an mbox: the tail rewritten without them, tombstones written.

Shared by EXPUNGE, MOVE and the recovery that finishes a killed MOVE
(``move_intent``), so all three remove a message the same way.
"""

from __future__ import annotations

import sqlite3

from imapsession.storage.changes import write_tombstone
from imapsession.storage.mbox.folder import ID, MODSEQ, SPAN_ROWS, Folder
from imapsession.storage.mbox.rewrite import rewrite_tail


def remove_uids(folder: Folder, db: sqlite3.Connection, fd: int, row: tuple,
                uids: list[int]) -> list[int]:
    """Remove those of ``uids`` still in the file (open read-write and locked as ``fd``);
    call inside a write transaction with ``row`` fresh. Returns the UIDs removed."""
    box_id = row[ID]
    present = {uid for (uid,) in db.execute(
        "SELECT uid FROM mbox_span WHERE mailbox_id = ?", (box_id,))}
    removed = sorted(set(uids) & present)
    if not removed:
        return []
    rewrite_tail(folder, db, fd, row, drop=set(removed), flags={}, start_uid=removed[0])
    modseq = row[MODSEQ] + 1
    for uid in removed:
        write_tombstone(db, box_id, uid, modseq, SPAN_ROWS)
    db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
    folder.stamp(db, fd, box_id)
    return removed
