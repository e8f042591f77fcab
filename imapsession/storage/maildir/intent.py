"""The intent record that makes a Maildir COPY or MOVE all or nothing across a kill.

Theory of operation
-------------------
Under the index's write lock a COPY links every source into the target's tmp/
(not mail, by Maildir's rule), then writes this record (durably: fsync of the
file and the root), then inserts the rows, renames each tmp/ link to its cur/
name, for MOVE unlinks the sources, fsyncs those directories, removes the
record and commits. One record at a time is enough: only the holder of the
write lock writes it, and it is gone before the lock is let go.

Whoever takes the write lock next and finds the record (``recover``, run on
every write lock) decides by the index: the target's first row of the copy
committed means it is done and the rest is finished (tmp/ renamed, sources
unlinked); no such row means nothing happened and every step is undone (the
cur/ and tmp/ copies unlinked, a MOVE's unlinked source linked back). Killed
after the record went and before the commit, every file is already in its final
place and the scans bring the index in line (new UIDs: no OK promised any).
"""

from __future__ import annotations

import json
import os
import sqlite3

from imapsession.storage.maildir.save import NO_LINK, fsync_dir, spool_copy
from imapsession.storage.modes import Modes

INTENT_NAME = "imapsession.copy-intent"


def intent_path(root: str) -> str:
    return os.path.join(root, INTENT_NAME)


def write_intent(root: str, modes: Modes, record: dict) -> None:
    """Durably record ``record`` (dest folder, dest id, entries: source, tmp, final, uid)."""
    path = intent_path(root)
    modes.replace(path, json.dumps(record).encode(), tmp=path + ".tmp")
    fsync_dir(root)


def clear_intent(root: str) -> None:
    """Drop the record once every file is in its final place (before the commit)."""
    try:
        os.unlink(intent_path(root))
    except FileNotFoundError:
        pass


def clear_partial(root: str) -> None:
    """Remove the temp file of a record whose writer was killed; call under the lock."""
    _unlink(intent_path(root) + ".tmp")


def _read(root: str) -> dict | None:
    try:
        with open(intent_path(root), "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None
    except ValueError:
        return {}  # cannot happen through replace(); dropped as nothing to do


def recover(db: sqlite3.Connection, root: str, modes: Modes) -> bool:
    """Finish or undo a COPY/MOVE a killed process left; call under the write lock.

    Returns True when a record was found (and is now gone).
    """
    record = _read(root)
    if record is None:
        return False
    entries = record.get("entries") or []
    if entries:
        first = entries[0]
        done = db.execute(
            "SELECT 1 FROM message WHERE mailbox_id = ? AND uid = ? AND filename = ?",
            (record["dest_id"], first[3], first[2])).fetchone() is not None
        dest = os.path.join(root, record["dest"])
        move = bool(record.get("move"))
        step = finish_entry if done else undo_entry
        for source, tmp, final, _uid in entries:
            step(root, dest, source, tmp, final, move, modes)
        fsync_dir(os.path.join(dest, "cur"))
        for source in {os.path.dirname(e[0]) for e in entries}:
            fsync_dir(os.path.join(root, source))
    clear_intent(root)
    return True


def finish_entry(root: str, dest: str, source: str, tmp: str, final: str, move: bool,
                 modes: Modes) -> None:
    """The index committed: the copy goes to cur/, a MOVE's source away."""
    tmp_path, final_path = os.path.join(dest, "tmp", tmp), os.path.join(dest, final)
    if os.path.exists(tmp_path) and not os.path.exists(final_path):
        os.rename(tmp_path, final_path)
    _unlink(tmp_path)
    if move:
        _unlink(os.path.join(root, source))


def undo_entry(root: str, dest: str, source: str, tmp: str, final: str, move: bool,
               modes: Modes) -> None:
    """The index did not commit: the copy goes, a MOVE's source comes back."""
    tmp_path, final_path = os.path.join(dest, "tmp", tmp), os.path.join(dest, final)
    source_path = os.path.join(root, source)
    if move and not os.path.exists(source_path):
        for copy in (final_path, tmp_path):
            if os.path.exists(copy):
                _restore(copy, source_path, modes)
                break
    _unlink(final_path)
    _unlink(tmp_path)


def _restore(copy: str, source_path: str, modes: Modes) -> None:
    """Put a MOVE's unlinked source back from its copy (a link, or a copy across devices)."""
    try:
        os.link(copy, source_path)
        return
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in NO_LINK:
            raise
    folder = os.path.dirname(os.path.dirname(source_path))
    spool = spool_copy(copy, os.path.join(folder, "tmp"), modes)
    try:
        os.rename(spool.path, source_path)
    finally:
        spool.discard()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
