"""Changing an mbox in place, under its write lock inside the index's write transaction.

A flag change rewrites the Status/X-Status/X-Keywords block in the space
reserved for it; EXPUNGE (and a flag change that does not fit) rewrites the tail
in place behind a rollback journal (``journal``), normalising every rewritten
message (X-UID, padding, Content-Length, X-IMAPbase first).
"""

from __future__ import annotations

import os
import sqlite3

import imapsession.storage.mbox.format as fmt
import imapsession.storage.mbox.journal as journal
from imapsession.storage.base import StorageError
from imapsession.storage.flags import flags_from_text
from imapsession.storage.mbox.folder import FIRST_RECENT, ID, UIDNEXT, UIDVALIDITY, Folder, put_span


def _block_fields(fd: int, off: int, length: int) -> set[bytes]:
    return {fmt.field_name(line) for line in fmt.header_lines(os.pread(fd, length, off))}


def rewrite_tail(folder: Folder, db: sqlite3.Connection, fd: int, row: tuple, *,
                 drop: set[int], flags: dict[int, frozenset[str]], start_uid: int) -> None:
    """Rewrite from message ``start_uid`` (or the first dropped one) to the end, journaled.

    ``drop``: UIDs whose messages go; ``flags``: new flags by UID. Call with the file
    write-locked inside a write transaction; the caller records flags and tombstones.
    """
    box_id = row[ID]
    spans = folder.spans(db, box_id)
    base_off = db.execute("SELECT base_off FROM mbox_file WHERE mailbox_id = ?",
                          (box_id,)).fetchone()
    firsts = [i for i, s in enumerate(spans) if s[0] in drop or s[0] == start_uid]
    if not firsts:
        return
    first = 0 if not base_off or base_off[0] < 0 else firsts[0]
    st = os.fstat(fd)
    old_size = st.st_size
    at = spans[first][1]
    keywords = folder.keywords(box_id)
    plan: list[tuple[bytes, int, int]] = []  # (new head, body_off, end_off)
    kept_uids: list[int] = []
    for uid, from_off, hdr_off, hdr_end, body_off, end_off, *_rest, flag_text, _date in (
            spans[first:]):
        if uid in drop:
            continue
        from_bytes = os.pread(fd, hdr_off - from_off, from_off)
        if not from_bytes.endswith(b"\n"):
            from_bytes += b"\n"
        header = os.pread(fd, hdr_end - hdr_off, hdr_off)
        new_flags = flags.get(uid, flags_from_text(flag_text))
        base = fmt.imapbase(row[UIDVALIDITY], row[UIDNEXT], keywords) \
            if at == 0 and not plan else b""
        head = b"".join((from_bytes, fmt.visible_header(header),
                         fmt.meta_block(new_flags, recent=uid >= row[FIRST_RECENT],
                                        base=base, uid=uid),
                         f"Content-Length: {end_off - body_off}\n\n".encode()))
        plan.append((head, body_off, end_off))
        kept_uids.append(uid)
    new_size = at + sum(len(h) + (e - b) + 1 for h, b, e in plan)
    jpath = folder.journal_path(st)
    journal.begin(jpath, fd, at, old_size, new_size, folder.store.modes)
    jfd = os.open(jpath, os.O_RDONLY)
    try:
        skip = len(os.pread(jfd, 256, 0).split(b"\n", 1)[0]) + 1
        if new_size > old_size:
            os.ftruncate(fd, new_size)
        pos = at
        for head, body_off, end_off in plan:
            journal.fault("rewrite-write")
            os.pwrite(fd, head, pos)
            pos += len(head)
            src = skip + body_off - at
            left = end_off - body_off
            while left > 0:
                chunk = os.pread(jfd, min(left, 1 << 20), src)
                if not chunk:
                    raise StorageError("journal shorter than expected")
                os.pwrite(fd, chunk, pos)
                pos, src, left = pos + len(chunk), src + len(chunk), left - len(chunk)
            os.pwrite(fd, b"\n", pos)
            pos += 1
        os.fsync(fd)
        journal.fault("before-commit")
        journal.commit(jpath)
        journal.fault("after-commit")
        os.ftruncate(fd, new_size)
        os.fsync(fd)
        journal.fault("before-finish")
    finally:
        os.close(jfd)
    journal.finish(jpath)
    # the new offsets, from the bytes just written
    for uid in drop:
        db.execute("DELETE FROM mbox_span WHERE mailbox_id = ? AND uid = ?", (box_id, uid))
    if new_size > at:
        parsed = fmt.parse_fd(fd, at, new_size)
        if len(parsed) != len(kept_uids):
            raise StorageError("rewritten mbox does not parse back")
        for uid, span in zip(kept_uids, parsed, strict=True):
            put_span(db, box_id, uid, span)
        if at == 0:
            db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                       (parsed[0].base_off, box_id))
    elif at == 0:
        db.execute("UPDATE mbox_file SET base_off = -1 WHERE mailbox_id = ?", (box_id,))

def update_base(folder: Folder, db: sqlite3.Connection, fd: int, row: tuple) -> None:
    """Write the keyword list into X-IMAPbase: in place when it fits, else rewrite all."""
    first = db.execute(
        "SELECT s.uid, s.meta_off, s.meta_len, m.flags FROM mbox_span s JOIN message m"
        " ON m.mailbox_id = s.mailbox_id AND m.uid = s.uid WHERE s.mailbox_id = ?"
        " AND s.from_off = 0", (row[ID],)).fetchone()
    if first is None:
        return
    uid, meta_off, meta_len, flag_text = first
    if meta_off >= 0 and b"x-imapbase" in _block_fields(fd, meta_off, meta_len):
        try:
            block = reserved_block(folder, fd, row, uid, meta_off, meta_len,
                                   flags_from_text(flag_text))
        except ValueError:
            pass
        else:
            os.pwrite(fd, block, meta_off)
            return
    rewrite_tail(folder, db, fd, row, drop=set(), flags={}, start_uid=uid)

def reserved_block(folder: Folder, fd: int, row: tuple, uid: int, meta_off: int,
                   meta_len: int, flags: frozenset[str]) -> bytes:
    """The reserved block re-rendered with ``flags``, keeping the fields it held."""
    fields = _block_fields(fd, meta_off, meta_len)
    base = fmt.imapbase(row[UIDVALIDITY], row[UIDNEXT], folder.keywords(row[ID])) \
        if b"x-imapbase" in fields else b""
    return fmt.meta_block(flags, meta_len, recent=uid >= row[FIRST_RECENT], base=base,
                          uid=uid if b"x-uid" in fields else 0)
