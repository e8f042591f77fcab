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

from imapsession.storage.base import GONE_TEXT, SYSTEM_FLAGS, CopyResult, MessageGone
from imapsession.storage.changes import write_tombstone
from imapsession.storage.flags import flags_from_text, flags_to_text
from imapsession.storage.maildir.filenames import size_stem, vsize_from_base
from imapsession.storage.maildir.folder import Folder
from imapsession.storage.maildir.save import NO_LINK, copy_file, link_unique


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
) -> CopyResult:
    """Copy into ``target`` (with flags, keywords, size and date); ``readonly``: the source's
    session may not move new/ to cur/.

    All or nothing (RFC 3501 6.4.7, RFC 2180 4.4): a UID whose row or file is gone
    raises ``MessageGone`` before the target changes; the caller's transaction then
    rolls the rows back, and links already made are unlinked here.
    """
    store = folder.store
    dest = store.existing_folder(target)
    src_row = folder.ensure(db, move_new=not readonly)
    dest_row = dest.ensure(db, move_new=False)
    rows = _source_rows(db, folder, src_row[0], uids)
    keywords = {f for r in rows for f in flags_from_text(r[3]) if f not in SYSTEM_FLAGS}
    dest.keywords.ensure(sorted(keywords))
    dest_id, uidnext, modseq = dest_row[0], dest_row[2], dest_row[3] + 1
    source_uids, target_uids, made = [], [], []
    try:
        for uid, src, base, flag_text, size, date in rows:
            flags = frozenset(dest.keywords.spelling(f) for f in flags_from_text(flag_text))
            vsize = size if size is not None else vsize_from_base(base)
            new_name = _link(src, dest.path, size_stem(os.stat(src).st_size, vsize),
                             dest.keywords.letters(flags))
            made.append(new_name)
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
    except BaseException as exc:
        _unlink_all(dest.path, made)
        if isinstance(exc, FileNotFoundError):  # a source unlinked by another program meanwhile
            raise MessageGone(GONE_TEXT) from None
        raise
    if target_uids:
        db.execute(
            "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
            (uidnext, modseq, dest_id),
        )
    return CopyResult(dest_row[1], tuple(source_uids), tuple(target_uids))


def _source_rows(db: sqlite3.Connection, folder: Folder, box_id: int,
                 uids: Iterable[int]) -> list[tuple]:
    """(uid, path, base, flags, size, date) for every UID, or ``MessageGone`` for any gone."""
    rows = []
    for uid in sorted(set(uids)):
        msg = db.execute(
            "SELECT base, filename, flags, size, internal_date FROM message"
            " WHERE mailbox_id = ? AND uid = ?",
            (box_id, uid),
        ).fetchone()
        if msg is None:
            raise MessageGone(GONE_TEXT)
        base, filename = msg[0], msg[1]
        src = os.path.join(folder.path, filename)
        if not os.path.exists(src):
            found = folder.locate(base)
            if found is None:
                raise MessageGone(GONE_TEXT)
            src = os.path.join(folder.path, found)
        rows.append((uid, src, base, *msg[2:]))
    return rows


def _link(src: str, dest: str, stem: str, letters: str | None) -> str:
    """A hard link in ``dest``'s cur/, or a copy where the file system cannot link."""
    try:
        return link_unique(src, dest, "cur", stem, letters)
    except OSError as exc:
        if exc.errno not in NO_LINK:
            raise
        return copy_file(src, dest, stem, letters)


def _unlink_all(folder: str, names: list[str]) -> None:
    """Undo the links of a copy that failed part way."""
    for name in names:
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass
