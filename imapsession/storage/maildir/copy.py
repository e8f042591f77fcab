"""COPY, MOVE and EXPUNGE's unlinking for Maildir, inside the caller's write transaction.

COPY hard-links each source file into the target's cur/ under a new unique name
(copying it where a link is impossible), keeping flags, keywords (re-lettered for
the target's ``dovecot-keywords``), size and internal date. MOVE is COPY, then the
sources are unlinked and tombstoned as EXPUNGE does (RFC 6851).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from imapsession.storage.base import SYSTEM_FLAGS, CopyResult
from imapsession.storage.changes import write_tombstone
from imapsession.storage.flags import flags_from_text, flags_to_text
from imapsession.storage.maildir.filenames import size_stem, vsize_from_base
from imapsession.storage.maildir.folder import Folder
from imapsession.storage.maildir.save import NO_LINK, copy_file, link_unique
from imapsession.storage.modes import Modes


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
    return removed


def copy_messages(
    db: sqlite3.Connection, folder: Folder, uids: Iterable[int], target: str, *, readonly: bool
) -> CopyResult | None:
    """Copy into ``target`` (with flags, keywords, size and date); ``readonly``: the source's
    session may not move new/ to cur/.

    All or nothing (RFC 3501 6.4.7, RFC 2180 4.4): ``None`` when a UID's row or file is
    gone, with the target as it was (links already made are unlinked, no row written).
    Returned, not raised: the caller's transaction must still commit what the scans
    (``ensure``) changed, or the index would disagree with files they renamed.
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
    source_uids, target_uids = [], []
    try:
        for (uid, _src, _base, _flags, _size, date), (new_name, flags, vsize) in zip(
                rows, made, strict=True):
            if date is None:
                date = os.stat(os.path.join(dest.path, new_name)).st_mtime_ns
            db.execute(
                "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq, size,"
                " internal_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (dest_id, uidnext, new_name.split("/", 1)[1].partition(":")[0], new_name,
                 flags_to_text(flags), modseq, vsize, date),
            )
            source_uids.append(uid)
            target_uids.append(uidnext)
            uidnext += 1
    except BaseException:
        _unlink_all(dest.path, [m[0] for m in made])
        raise
    if target_uids:
        db.execute(
            "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
            (uidnext, modseq, dest_id),
        )
    return CopyResult(dest_row[1], tuple(source_uids), tuple(target_uids))


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
    """(new name, flags, vsize) per row, linked into ``dest``; ``None`` (and nothing left
    behind) when a source was unlinked by another program after the check."""
    made: list[tuple] = []
    try:
        for _uid, src, base, flag_text, size, _date in rows:
            flags = frozenset(dest.keywords.spelling(f) for f in flags_from_text(flag_text))
            vsize = size if size is not None else vsize_from_base(base)
            new_name = _link(src, dest.path, size_stem(os.stat(src).st_size, vsize),
                             dest.keywords.letters(flags), dest.store.modes)
            made.append((new_name, flags, vsize))
    except BaseException as exc:
        _unlink_all(dest.path, [m[0] for m in made])
        if isinstance(exc, FileNotFoundError):
            return None
        raise
    return made


def _link(src: str, dest: str, stem: str, letters: str | None, modes: Modes) -> str:
    """A hard link in ``dest``'s cur/, or a copy where the file system cannot link."""
    try:
        return link_unique(src, dest, "cur", stem, letters)
    except OSError as exc:
        if exc.errno not in NO_LINK:
            raise
        return copy_file(src, dest, stem, letters, modes)


def _unlink_all(folder: str, names: list[str]) -> None:
    """Undo the links of a copy that failed part way."""
    for name in names:
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass
