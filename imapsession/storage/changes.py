"""The index's change log for both backends: tombstones written, ``sync(since)`` answered.

Theory of operation
-------------------
Every change gives the messages it touches the mailbox's next modseq; an
expunged UID leaves a tombstone carrying the modseq of its removal. So the
answer to ``sync(since)`` is the rows with a higher modseq plus the tombstones
with a higher modseq, whichever backend wrote them.

A full ``sync(0)`` (every SELECT) reads one packed row (``snapshot``: the UID
map as arrays at some modseq) plus the rows and tombstones newer than it, so a
second SELECT of a large mailbox costs one query and the record objects; a
reader rewrites the snapshot when it has fallen more than a few hundred changes
behind.

\\Recent uses ``first_recent_uid``: a read-write session's sync claims the UIDs
at or above it and moves it to UIDNEXT, in one transaction, so each message is
recent in exactly one session.
"""

from __future__ import annotations

import sqlite3

from imapsession.storage.base import MessageRecord
from imapsession.storage.flags import flags_from_text, flags_to_text
from imapsession.storage.index import Index
from imapsession.storage.rows import mailbox_row


def write_tombstone(db: sqlite3.Connection, box_id: int, uid: int, modseq: int,
                    also: tuple[str, ...] = ()) -> None:
    """Forget an expunged message's rows (the shared ones and the backend's ``also``
    tables) and record its UID for ``sync(since)``; call inside a write transaction."""
    for table in ("message", "message_cache", *also):
        db.execute(f"DELETE FROM {table} WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
    db.execute(
        "INSERT OR REPLACE INTO tombstone (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
        (box_id, uid, modseq),
    )


SNAPSHOT_SLACK = 200  # changes since the snapshot before a reader rewrites it


def changes_since(
    db: sqlite3.Connection, box_id: int, since_modseq: int, highest: int
) -> tuple[tuple[MessageRecord, ...], tuple[int, ...], bool]:
    """The index's answer to ``sync(since)`` for every backend: records changed after
    ``since_modseq`` (all of them for 0, from the packed snapshot), UIDs expunged after
    it, and whether the snapshot is stale (the caller saves it once the read
    transaction that also read ``highest`` is over)."""
    if since_modseq == 0 and highest > 0:
        changed, stale = all_records(db, box_id)
        return changed, (), stale
    if since_modseq >= highest:
        return (), (), False
    changed = tuple(
        MessageRecord(uid, flags_from_text(flags), modseq)
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


def all_records(db: sqlite3.Connection, box_id: int) -> tuple[tuple[MessageRecord, ...], bool]:
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
        return tuple(MessageRecord(u, flags_from_text(f), m) for u, f, m in rows), True
    base_modseq, raw_uids, raw_modseqs, raw_ids, texts = snap
    uids, modseqs, ids = array("I"), array("Q"), array("I")
    uids.frombytes(raw_uids)
    modseqs.frombytes(raw_modseqs)
    ids.frombytes(raw_ids)
    sets = [flags_from_text(t) for t in texts.split("\n")]
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
        merged[uid] = (flags_from_text(flags), modseq)
    records = tuple(MessageRecord(u, *merged[u]) for u in sorted(merged))
    return records, len(delta) + len(gone) > SNAPSHOT_SLACK


def save_snapshot(
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
                "\n".join(flags_to_text(f) for f in texts),
            ),
        )


def claim_recent(index: Index, name: str, box_id: int) -> frozenset[int]:
    """A read-write sync's \\Recent: the UIDs at or above ``first_recent_uid``, which
    moves to UIDNEXT in the same transaction."""
    with index.write() as db:
        row = mailbox_row(db, name)
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
    return frozenset(claimed)
