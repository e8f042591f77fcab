"""A Maildir folder's record beside the index: when ``dovecot-uidlist`` must be written.

The index is a cache of the folder; ``dovecot-uidlist`` (``uidlist_file.py``) is
the record that travels with it: UIDVALIDITY, every UID, the next UID and a
modseq floor. Each write transaction that gives UIDs, removes messages or raises
HIGHESTMODSEQ past the floor calls ``settle`` before it commits, under the
uidlist lock, so the file never says less than a client may have seen.
"""

from __future__ import annotations

import os
import sqlite3

from imapsession.storage.maildir.uidlist_file import UIDLIST_FILE, Uidlist, append, load, rewrite
from imapsession.storage.maildir.uidlist_lock import uidlist_locked
from imapsession.storage.modes import Modes

MODSEQ_RESERVE = 1000  # the uidlist's modseq floor runs this far ahead of the index


def current(row: tuple, found: Uidlist | None) -> bool:
    """True when the uidlist is ours, this row's, and says all the row says (no write due)."""
    return (found is not None and found.floor is not None and found.uidvalidity == row[1]
            and found.next_uid() == row[2] and row[3] <= found.floor)


def same_folder(row: tuple, found: Uidlist | None, cur_ino: int) -> bool:
    """Whether an index row is the folder now on disk at its name.

    The uidlist's UIDVALIDITY says so, whatever the inode (a copy, a restore). Without
    a uidlist of ours, the cur/ inode decides, as before uidlists were written.
    """
    if found is not None and found.uidvalidity == row[1]:
        return True
    if found is not None and found.floor is not None:
        return False
    return row[5] == cur_ino


def holds(path: str, uidvalidity: int, cur_ino: int) -> bool:
    """Whether the folder at ``path`` is the one with that UIDVALIDITY (or cur/ inode)."""
    found = load(path)
    if found is not None:
        return found.uidvalidity == uidvalidity
    try:
        return os.stat(os.path.join(path, "cur")).st_ino == cur_ino
    except (FileNotFoundError, NotADirectoryError):
        return False


def settle(db: sqlite3.Connection, folder: str, modes: Modes, row: tuple,
           added: list[tuple[int, str]], *, removed: bool = False) -> None:
    """Bring the uidlist in line with the index row (call inside its write transaction).

    New UIDs (``added``: uid, base) are appended as lines; a rewrite happens only
    when messages went (``removed``), the file is not ours or not this row's, it
    lacks UIDs the index gave (a line lost in a crash), or the highest modseq
    passed its floor (the new floor is ``MODSEQ_RESERVE`` ahead, so STOREs rewrite
    the file once per that many changes).
    """
    if not removed and not added and current(row, load(folder)):
        return
    with uidlist_locked(os.path.join(folder, UIDLIST_FILE), modes):
        found = load(folder)
        if found is not None and found.uidvalidity != row[1]:
            found = None
        if (not removed and found is not None and found.floor is not None
                and row[3] <= found.floor):
            known = found.records
            append(folder, found,
                   [(uid, base) for uid, base in added if known.get(base, (0,))[0] != uid])
            if found.next_uid() >= row[2]:
                return
        _rewrite(db, folder, modes, row, found)


def _rewrite(db: sqlite3.Connection, folder: str, modes: Modes, row: tuple,
             found: Uidlist | None) -> None:
    """The whole uidlist from the index, keeping lines another server added since."""
    old = found.records if found is not None else {}
    records = {
        base: (uid, old[base][1] if base in old and old[base][0] == uid else "")
        for uid, base in db.execute("SELECT uid, base FROM message WHERE mailbox_id = ?",
                                    (row[0],))
    }
    for base, (uid, ext) in old.items():
        if uid >= row[2] and base not in records:  # numbered by Dovecot, not seen yet
            records[base] = (uid, ext)
    state = Uidlist(3, row[1], row[2], guid=found.guid if found else "",
                    floor=row[3] + MODSEQ_RESERVE,
                    extra=found.extra if found else [], records=records)
    state.last_uid = max((uid for uid, _ in records.values()), default=0)
    rewrite(folder, state, modes)
