"""COPY, MOVE and EXPUNGE's unlinking for Maildir, inside the caller's write transaction.

COPY hard-links each source file into the target's tmp/ under a new unique name
(copying it where a link is impossible), then, behind an intent record
(``intent.py``), renames the links into cur/ with the rows inserted, keeping flags,
keywords (re-lettered for the target's ``dovecot-keywords``), size and internal
date. MOVE is COPY, then the sources are unlinked and tombstoned as EXPUNGE does
(RFC 6851), in the same transaction and behind the same record: after a kill the
messages are in one mailbox or the other, never both or half.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from imapsession.storage.base import SYSTEM_FLAGS, CopyResult, StorageError
from imapsession.storage.changes import write_tombstone
from imapsession.storage.flags import flags_from_text, flags_to_text
from imapsession.storage.maildir.filenames import size_stem, vsize_from_base
from imapsession.storage.maildir.folder import Folder
from imapsession.storage.maildir.intent import clear_intent, undo_entry, write_intent
from imapsession.storage.maildir.save import NO_LINK, fsync_dir, spool_copy
from imapsession.storage.modes import Modes
from imapsession.storage.spool import unique_base


def remove_messages(
    db: sqlite3.Connection, folder: Folder, row: tuple, uids: list[int]
) -> list[int]:
    """Unlink files and write tombstones; call inside a write transaction."""
    box_id, modseq = row[0], row[3] + 1
    removed = []
    for uid in sorted(set(uids)):
        msg = db.execute(
            "SELECT filename, base FROM message WHERE mailbox_id = ? AND uid = ?",
            (box_id, uid),
        ).fetchone()
        if msg is None:
            continue
        try:
            os.unlink(os.path.join(folder.path, msg[0]))
        except FileNotFoundError:
            found = folder.locate(msg[1])
            if found is not None:
                os.unlink(os.path.join(folder.path, found))
        write_tombstone(db, box_id, uid, modseq)
        removed.append(uid)
    if removed:
        db.execute("UPDATE mailbox SET highest_modseq = ? WHERE id = ?", (modseq, box_id))
        for sub in ("cur", "new"):  # durable before the commit: an unlink lost to a power
            fsync_dir(os.path.join(folder.path, sub))  # cut would bring the mail back
    return removed


def copy_messages(
    db: sqlite3.Connection, folder: Folder, uids: Iterable[int], target: str, *, readonly: bool,
    move: bool = False,
) -> CopyResult | None:
    """Copy into ``target`` (with flags, keywords, size and date); ``readonly``: the source's
    session may not move new/ to cur/; ``move``: the sources are then expunged.

    All or nothing (RFC 3501 6.4.7, RFC 2180 4.4): ``None`` when a UID's row or file is
    gone, with the target as it was (links already made are unlinked, no row written).
    Returned, not raised: the caller's transaction must still commit what the scans
    (``ensure``) changed, or the index would disagree with files they renamed.
    Across a kill too: the copies wait in the target's tmp/ behind an intent record
    until the rows are in (``intent.py`` has the protocol and how recovery decides).
    """
    store = folder.store
    dest = store.existing_folder(target)
    src_row = folder.ensure(db, move_new=not readonly)
    dest_row = dest.ensure(db, move_new=False)
    rows = _source_rows(db, folder, src_row[0], uids)
    if rows is None:
        return None
    keywords = {f for r in rows for f in flags_from_text(r[3]) if f not in SYSTEM_FLAGS}
    dest.keywords.ensure(sorted(keywords))
    made = _link_all(dest, rows)
    if made is None:
        return None
    dest_id, uidnext, modseq = dest_row[0], dest_row[2], dest_row[3] + 1
    root = store.root
    entries = [[os.path.relpath(r[1], root), tmp, final, uidnext + i]
               for i, (r, (tmp, final, _f, _v)) in enumerate(zip(rows, made, strict=True))]
    try:
        if entries:
            write_intent(root, store.modes, {"dest": os.path.relpath(dest.path, root),
                                             "dest_id": dest_id, "move": move,
                                             "entries": entries})
        source_uids, target_uids = _insert_rows(db, dest, dest_id, uidnext, modseq, rows, made)
        for _tmp, tmp, final, _uid in entries:
            os.rename(os.path.join(dest.path, "tmp", tmp), os.path.join(dest.path, final))
        if move and source_uids:
            row = folder.row()
            assert row is not None
            remove_messages(db, folder, row, source_uids)
        fsync_dir(os.path.join(dest.path, "cur"))
    except BaseException:
        if entries:  # undone now, as recovery would (the rows roll back with the caller)
            _undo_now(root, store.modes, entries, dest.path, move)
        raise
    clear_intent(root)  # every file in its final place: the commit follows
    return CopyResult(dest_row[1], tuple(source_uids), tuple(target_uids))


def _insert_rows(db: sqlite3.Connection, dest: Folder, dest_id: int, uidnext: int,
                 modseq: int, rows: list[tuple], made: list[tuple]) -> tuple[list, list]:
    """The target's rows for the copies, under their final cur/ names."""
    source_uids, target_uids = [], []
    for (uid, _src, _base, _flags, _size, date), (tmp, new_name, flags, vsize) in zip(
            rows, made, strict=True):
        if date is None:
            date = os.stat(os.path.join(dest.path, "tmp", tmp)).st_mtime_ns
        db.execute(
            "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq, size,"
            " internal_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (dest_id, uidnext, new_name.split("/", 1)[1].partition(":")[0], new_name,
             flags_to_text(flags), modseq, vsize, date),
        )
        source_uids.append(uid)
        target_uids.append(uidnext)
        uidnext += 1
    if target_uids:
        db.execute(
            "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
            (uidnext, modseq, dest_id),
        )
    return source_uids, target_uids


def _undo_now(root: str, modes: Modes, entries: list, dest: str, move: bool) -> None:
    """Put files back as they were before a COPY/MOVE that failed (not killed) part way."""
    for source, tmp, final, _uid in entries:
        undo_entry(root, dest, source, tmp, final, move, modes)
    clear_intent(root)


def _source_rows(db: sqlite3.Connection, folder: Folder, box_id: int,
                 uids: Iterable[int]) -> list[tuple] | None:
    """(uid, path, base, flags, size, date) for every UID, or ``None`` if any is gone."""
    rows = []
    for uid in sorted(set(uids)):
        msg = db.execute(
            "SELECT base, filename, flags, size, internal_date FROM message"
            " WHERE mailbox_id = ? AND uid = ?",
            (box_id, uid),
        ).fetchone()
        if msg is None:
            return None
        base, filename = msg[0], msg[1]
        src = os.path.join(folder.path, filename)
        if not os.path.exists(src):
            found = folder.locate(base)
            if found is None:
                return None
            src = os.path.join(folder.path, found)
        rows.append((uid, src, base, *msg[2:]))
    return rows


def _link_all(dest: Folder, rows: list[tuple]) -> list[tuple] | None:
    """(tmp name, final cur/ name, flags, vsize) per row, linked into ``dest``'s tmp/;
    ``None`` (and nothing left behind) when a source was unlinked by another program
    after the check."""
    made: list[tuple] = []
    tmp_dir = os.path.join(dest.path, "tmp")
    try:
        for _uid, src, base, flag_text, size, _date in rows:
            flags = frozenset(dest.keywords.spelling(f) for f in flags_from_text(flag_text))
            vsize = size if size is not None else vsize_from_base(base)
            tmp = _link(src, tmp_dir, dest.store.modes)
            stem = size_stem(os.stat(os.path.join(tmp_dir, tmp)).st_size, vsize)
            made.append((tmp, f"cur/{tmp}{stem}:2,{dest.keywords.letters(flags)}", flags, vsize))
    except BaseException as exc:
        _unlink_all(tmp_dir, [m[0] for m in made])
        if isinstance(exc, FileNotFoundError):
            return None
        raise
    return made


def _link(src: str, tmp_dir: str, modes: Modes) -> str:
    """A hard link in ``tmp_dir`` under a fresh unique name, or a copy where the file system
    cannot link (same mtime); returns the name."""
    for _ in range(100):
        name = unique_base()
        try:
            os.link(src, os.path.join(tmp_dir, name))
            return name
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in NO_LINK:
                raise
            return os.path.basename(spool_copy(src, tmp_dir, modes).path)
    raise StorageError("could not find a unique file name")


def _unlink_all(folder: str, names: list[str]) -> None:
    """Undo the links of a copy that failed part way."""
    for name in names:
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass
