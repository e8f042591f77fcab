"""Values computed from a message (ENVELOPE, BODYSTRUCTURE, its header), kept in the
index's ``message_cache`` table for every backend.

Messages never change once stored (flags live elsewhere), so a remembered value
stays true. Reads load one field for the whole mailbox in one query; writes are
batched and done inside the backend's own write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

FLUSH_AT = 256  # pending values before the backend is asked to write them


class MessageCache:
    def __init__(self, db: Callable[[], sqlite3.Connection], box_id: Callable[[], int]):
        self._db = db
        self._box_id = box_id
        self._values: dict[str, dict[int, bytes]] = {}
        self._pending: list[tuple[int, int, str, bytes]] = []

    def get(self, uid: int, field: str) -> bytes | None:
        values = self._values.get(field)
        if values is None:  # one query per field and session, not one per message
            values = self._values[field] = dict(self._db().execute(
                "SELECT uid, value FROM message_cache WHERE mailbox_id = ? AND field = ?",
                (self._box_id(), field)))
        return values.get(uid)

    def put(self, uid: int, field: str, value: bytes) -> bool:
        """Remember a value; True when enough are pending that they should be written."""
        self._values.setdefault(field, {})[uid] = value
        self._pending.append((self._box_id(), uid, field, value))
        return len(self._pending) >= FLUSH_AT

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def write_pending(self, db: sqlite3.Connection) -> None:
        """Inside the caller's write transaction: store what is pending."""
        values, self._pending = self._pending, []
        # only for messages still there: an expunge meanwhile removed its row
        db.executemany(
            "INSERT OR REPLACE INTO message_cache (mailbox_id, uid, field, value)"
            " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS"
            " (SELECT 1 FROM message WHERE mailbox_id = ?1 AND uid = ?2)",
            values,
        )
