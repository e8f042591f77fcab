"""The intent record that makes an mbox MOVE end in one mailbox, never both, across a kill.

Theory of operation
-------------------
An mbox MOVE appends the messages to the target file, then rewrites the source
without them, both under the index's write lock and in one transaction. A kill
between the two used to leave the messages in both files (the files are the
truth; the index rolled back). So before the first byte goes to the target, this
record says which UIDs leave which source and where the copies will be in the
target: the byte range ``[old, end)`` and its CRC (those of the append record,
``append_journal``). It is fsynced, and removed once the source is rewritten,
before the commit: from then on the files alone say the right thing.

Whoever takes the write lock next and finds it (``recover``, on every write
lock) opens the target, which finishes or cuts back an interrupted append
first, and reads the range: the CRC matches, so the copies are all there and the
source's expunge is completed (what of those UIDs is still in it goes); it does
not, so no copy is there and the source is left as it is. Either way the record
goes. The source's UIDs are its committed rows (or the X-UIDs in the file), so
they name the same messages after a kill.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from typing import Protocol

import imapsession.storage.mbox.journal as journal
from imapsession.storage.base import NoSuchMailbox
from imapsession.storage.mbox.expunge import remove_uids
from imapsession.storage.mbox.folder import Folder
from imapsession.storage.modes import Modes

INTENT_NAME = "move-intent"
_CHUNK = 1 << 20


class Owner(Protocol):
    """What recovery needs of the store (a protocol: the store module imports this one)."""

    state_dir: str
    modes: Modes

    def existing_folder(self, name: str) -> Folder: ...


def intent_path(state_dir: str) -> str:
    return os.path.join(state_dir, INTENT_NAME)


def write_intent(state_dir: str, modes: Modes, source: str, uids: list[int], dest: str,
                 old: int, end: int, crc: int) -> None:
    """Durably record a MOVE about to append ``[old, end)`` (CRC ``crc``) to ``dest``."""
    record = {"source": source, "uids": uids, "dest": dest, "old": old, "end": end, "crc": crc}
    modes.replace(intent_path(state_dir), json.dumps(record).encode(),
                  tmp=intent_path(state_dir) + ".tmp")
    journal.fsync_dir(intent_path(state_dir))


def clear_partial(state_dir: str) -> None:
    """Remove the temp file of a record whose writer was killed; call under the lock."""
    try:
        os.unlink(intent_path(state_dir) + ".tmp")
    except FileNotFoundError:
        pass


def clear_intent(state_dir: str) -> None:
    try:
        os.unlink(intent_path(state_dir))
    except FileNotFoundError:
        pass


def _landed(fd: int, old: int, end: int, crc: int) -> bool:
    """True when ``[old, end)`` of the file holds the bytes the record names."""
    if os.fstat(fd).st_size < end:
        return False
    got, pos = 0, old
    while pos < end:
        chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
        if not chunk:
            return False
        got = zlib.crc32(chunk, got)
        pos += len(chunk)
    return got == crc


def recover(store: Owner, db: sqlite3.Connection) -> bool:
    """Complete (or drop) a MOVE a killed process left; call under the write lock.

    Returns True when a record was found (it is gone now).
    """
    try:
        with open(intent_path(store.state_dir), "rb") as handle:
            record = json.loads(handle.read())
    except FileNotFoundError:
        return False
    except ValueError:
        record = None  # cannot happen through replace(): nothing to do
    if record:
        try:
            dest = store.existing_folder(record["dest"])
            with dest.open(write=False) as fd:  # an interrupted append is settled first
                landed = _landed(fd, record["old"], record["end"], record["crc"])
            if landed:
                source = store.existing_folder(record["source"])
                with source.open(write=True) as fd:
                    remove_uids(source, db, fd, source.refresh(db, fd), list(record["uids"]))
        except NoSuchMailbox:
            pass  # a mailbox deleted since by another program: nothing left to finish
    clear_intent(store.state_dir)
    return True
