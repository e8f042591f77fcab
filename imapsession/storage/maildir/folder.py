"""One Maildir folder's index bookkeeping: its mailbox row and the directory scan.

Theory of operation
-------------------
A sync first compares the mtimes of ``cur/`` and ``new/`` with the ones the last
scan recorded (only recorded when older than ``_DIRTY_SECONDS``, as Dovecot does,
since a change within the same clock tick would not move the mtime). Unchanged:
no directory is read. Changed: both are listed (``new/`` first, so a file moved
to ``cur/`` meanwhile is still seen), new base names get UIDs, renamed ones get
their flags re-read, vanished ones become tombstones. No message file is read;
sizes come lazily from ``,W=`` in the name or one read of the file in ``meta()``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import AbstractContextManager
from typing import Protocol

import imapsession.storage.names as names
from imapsession.storage.base import NoSuchMailbox, StorageError
from imapsession.storage.changes import write_tombstone
from imapsession.storage.flags import flags_to_text
from imapsession.storage.index import Index
from imapsession.storage.maildir.filenames import split_name
from imapsession.storage.maildir.keywords import Keywords
from imapsession.storage.maildir.record import current, holds, same_folder, settle
from imapsession.storage.maildir.uidlist import last_uidvalidity, remember_uidvalidity
from imapsession.storage.maildir.uidlist_file import UIDLIST_FILE, Uidlist, load
from imapsession.storage.maildir.uidlist_lock import uidlist_locked
from imapsession.storage.modes import Modes
from imapsession.storage.rows import drop_mailbox_rows, mailbox_row
from imapsession.storage.spool import sweep

_DIRTY_SECONDS = 2.0


class FolderOwner(Protocol):
    """What a folder needs of its store (the ``MaildirStore``; a protocol, so that this
    module need not import the store module, which imports it)."""

    root: str
    dovecot_import: bool
    modes: Modes

    @property
    def index(self) -> Index: ...

    def existing_folder(self, name: str) -> Folder: ...


class Folder:
    """The index rows and directory state of one mailbox; shared by store and mailbox."""

    def __init__(self, store: FolderOwner, name: str, path: str):
        self.store = store
        self.name = name
        self.path = path
        self.keywords = Keywords(path, store.modes)

    def tidy(self) -> None:
        """On open: spools a killed session left in tmp/ go, our files get the rule's modes."""
        sweep(os.path.join(self.path, "tmp"))
        modes = self.store.modes
        if self.path != self.store.root:  # the root's own mode is the rule, never changed
            modes.tighten(self.path)
        for entry in ("cur", "new", "tmp", "maildirfolder", self.keywords.path):
            modes.tighten(os.path.join(self.path, entry))

    # mailbox row ------------------------------------------------------------------

    def row(self) -> tuple | None:
        return mailbox_row(self.store.index.db, self.name)

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

    def locked(self) -> AbstractContextManager[None]:
        """Dovecot's uidlist lock: held while UIDs are given and the uidlist is written."""
        return uidlist_locked(os.path.join(self.path, UIDLIST_FILE), self.store.modes)

    def uidlist(self, row: tuple) -> Uidlist | None:
        """The folder's uidlist when it is this row's (same UIDVALIDITY), else None."""
        found = load(self.path)
        return found if found is not None and found.uidvalidity == row[1] else None

    def ensure(self, db: sqlite3.Connection, *, move_new: bool) -> tuple:
        """The up-to-date mailbox row (created and scanned as needed); call in a write txn.

        The folder is known by its name (its path under the root) and its
        ``dovecot-uidlist``, both of which travel with a copy; the cur/ inode is
        only scan state, and a new one (a copy, a restore) forces a rescan.
        """
        row = self.row()
        if row is not None and self.fresh(row) and current(row, load(self.path)):
            return row
        self._dir_stats()  # NoSuchMailbox, by name, when the folder went
        with self.locked():
            cur, _ = self._dir_stats()
            found = load(self.path)
            row = self.row()
            if row is not None and not same_folder(row, found, cur.st_ino):
                drop_mailbox_rows(db, row[0])  # a different folder now has this name
                row = None
            if row is None and self.name != "INBOX":
                row = self._renamed_row(db, cur.st_ino, found)
            if row is None:
                row = self._new_row(db, found, cur.st_ino)
            elif row[5] != cur.st_ino and found is not None and found.floor is not None:
                # an index from another place (a copy): its modseqs may lag the files'
                db.execute("UPDATE mailbox SET highest_modseq = max(highest_modseq, ?)"
                           " WHERE id = ?", (found.floor, row[0]))
                row = self.row()
            assert row is not None
            self.scan(db, row, move_new=move_new)
            return self.row()  # type: ignore[return-value]

    def _new_row(self, db: sqlite3.Connection, found: Uidlist | None, cur_ino: int) -> tuple:
        """A row for a folder the index does not know: from its uidlist when that is a record.

        Our uidlist (it has our modseq floor) is always one; Dovecot's only on the
        first index ever for this maildir (a Dovecot uidlist beside a lost index of
        ours may predate UIDs we gave, so it gets a new, greater UIDVALIDITY).
        """
        if found is not None and (found.floor is not None or self.store.dovecot_import):
            uidvalidity, uidnext = found.uidvalidity, found.next_uid()
            first_recent, modseq = uidnext, max(1, found.floor or 1)
        else:
            at_least = max(found.uidvalidity + 1 if found else 0,
                           last_uidvalidity(self.store.root) + 1)
            uidvalidity = self.store.index.next_uidvalidity(at_least)
            remember_uidvalidity(self.store.root, uidvalidity, self.store.modes)
            uidnext, first_recent, modseq = 1, 1, 1
        db.execute(
            "INSERT INTO mailbox (name, uidvalidity, uidnext, highest_modseq,"
            " first_recent_uid, dir_ino) VALUES (?, ?, ?, ?, ?, ?)",
            (self.name, uidvalidity, uidnext, modseq, first_recent, cur_ino),
        )
        return self.row()  # type: ignore[return-value]

    def _renamed_row(self, db: sqlite3.Connection, cur_ino: int,
                     found: Uidlist | None) -> tuple | None:
        """This folder's row under the name it had before a RENAME whose index commit never
        came (killed after the directory rename): same uidlist UIDVALIDITY (or, without
        a uidlist, same cur/ inode), and no such folder left at the old name.

        Taking it over keeps UIDVALIDITY and UIDs, as a RENAME that finished would.
        """
        if found is not None:
            query = ("SELECT id, name, uidvalidity FROM mailbox WHERE uidvalidity = ?"
                     " AND name != ? AND name != 'INBOX'", (found.uidvalidity, self.name))
        else:
            query = ("SELECT id, name, uidvalidity FROM mailbox WHERE dir_ino = ?"
                     " AND name != ? AND name != 'INBOX'", (cur_ino, self.name))
        for box_id, name, uidvalidity in db.execute(*query).fetchall():
            try:
                there = names.folder_path(self.store.root, name)
            except StorageError:  # a name no folder can have: not ours to take
                continue
            if not holds(there, uidvalidity, cur_ino):
                db.execute("UPDATE mailbox SET name = ? WHERE id = ?", (self.name, box_id))
                return self.row()
        return None

    def settle(self, db: sqlite3.Connection, added: list[tuple[int, str]],
               *, removed: bool = False) -> None:
        """Bring ``dovecot-uidlist`` in line with the index before the transaction commits
        (``record.settle``: appended lines, or a rewrite when messages went)."""
        row = self.row()
        if row is not None:
            settle(db, self.path, self.store.modes, row, added, removed=removed)

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

    def scan(self, db: sqlite3.Connection, row: tuple, *, move_new: bool) -> None:
        """Bring the UID map in line with the files, and the uidlist in line with both;
        call inside a write transaction.

        Under the uidlist lock, as Dovecot allocates: a file the uidlist already
        numbers (Dovecot delivered it, or the index was lost) keeps that UID; others
        get UIDs past both the index's and the uidlist's next UID.
        """
        with self.locked():
            found = self.uidlist(row)
            imported = found.uid_of() if found is not None else {}
            start = found.next_uid() if found is not None else 1
            assigned, removed = self._scan(db, row, move_new=move_new, imported=imported,
                                           uidnext=max(row[2], start))
            self.settle(db, assigned, removed=removed)

    def _scan(
        self,
        db: sqlite3.Connection,
        row: tuple,
        *,
        move_new: bool,
        imported: dict[str, int],
        uidnext: int,
    ) -> tuple[list[tuple[int, str]], bool]:
        """The scan itself; returns the (uid, base) it numbered anew and whether any went."""
        box_id, modseq = row[0], row[3]
        assigned: list[tuple[int, str]] = []
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
            write_tombstone(db, box_id, uid, new_modseq)
            changed = True
        for base, filename in disk.items():
            entry = known.get(base)
            if entry is not None:
                if entry[1] != filename:
                    letters = split_name(filename.split("/", 1)[1])[1]
                    text = flags_to_text(self.keywords.flags(letters))
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
            if imported.get(base) != uid:
                assigned.append((uid, base))
            uidnext = max(uidnext, uid + 1)
            flags = self.keywords.flags(split_name(filename.split("/", 1)[1])[1])
            db.execute(
                "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (box_id, uid, base, filename, flags_to_text(flags), new_modseq),
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
            "UPDATE mailbox SET uidnext = ?, highest_modseq = ?, cur_mtime = ?, new_mtime = ?,"
            " dir_ino = ? WHERE id = ?",
            (
                uidnext,
                new_modseq if changed else modseq,
                cur_st.st_mtime_ns if trusted else 0,
                new_st.st_mtime_ns if trusted else 0,
                cur_st.st_ino,
                box_id,
            ),
        )
        return assigned, bool(gone)

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
