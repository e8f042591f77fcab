"""APPEND to an mbox (and COPY into one): messages written at the end of the file.

APPEND writes at the end behind an append record (``append_journal``: a kill
leaves the whole message or none of it) and truncates back on failure. The new
messages carry X-UID and the reserved flag block; the first message of an empty
file carries X-IMAPbase. A keyword new to the mailbox is declared in X-IMAPbase
before any message carrying it is written, so a message is never found with a
keyword the file does not declare.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Callable

import imapsession.storage.mbox.append_journal as append_journal
import imapsession.storage.mbox.format as fmt
import imapsession.storage.mbox.journal as journal
from imapsession.storage.base import SYSTEM_FLAGS
from imapsession.storage.flags import flags_to_text
from imapsession.storage.mbox.folder import ID, MODSEQ, UIDNEXT, UIDVALIDITY, Folder, put_span
from imapsession.storage.mbox.rewrite import update_base
from imapsession.storage.modes import Modes


def _sender() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "MAILER-DAEMON"
    return user if user == "MAILER-DAEMON" else f"{user}@{os.uname().nodename.split('.')[0]}"


_CHUNK = 1 << 20


def _write(jpath: str, fd: int, size: int, blob: bytes, modes: Modes) -> None:
    """``blob`` at ``size``, behind an append record: a kill leaves all of it or none."""
    append_journal.begin(jpath, fd, size, blob, modes)
    try:
        view, pos = memoryview(blob), 0
        while pos < len(blob):
            if pos:
                journal.fault("append-chunk")
            pos += os.pwrite(fd, view[pos:pos + _CHUNK], size + pos)
        journal.fault("append-written")
        os.fsync(fd)
    except BaseException:
        os.ftruncate(fd, size)
        if os.path.exists(jpath):
            journal.finish(jpath)
        raise
    os.unlink(jpath)  # no directory fsync: a record that comes back finds the bytes complete


def append_messages(folder: Folder, db: sqlite3.Connection,
                    items: list[tuple[bytes, frozenset[str], int | None]],
                    before_write: Callable[[int, int, int], None] | None = None,
                    ) -> tuple[int, list[int]]:
    """Append messages (raw bytes, flags, internal date ns) under lock; (uidvalidity, uids).

    ``before_write(old, end, crc)`` is told where the bytes will go before the first is
    written (a MOVE records it, ``move_intent``)."""
    with folder.open(write=True) as fd:
        row = folder.refresh(db, fd)
        box_id = row[ID]
        added = folder.define_keywords(db, box_id, sorted(
            {f for _, fl, _ in items for f in fl if f not in SYSTEM_FLAGS}))
        keywords = folder.keywords(box_id)
        if added and os.fstat(fd).st_size > 0:
            update_base(folder, db, fd, folder.row())  # declared before any message uses it
            os.fsync(fd)
        size = os.fstat(fd).st_size
        lead = b"" if size == 0 or os.pread(fd, 1, size - 1) == b"\n" else b"\n"
        uid = row[UIDNEXT]
        uidnext = uid + len(items)
        sender = _sender()
        parts, uids = [lead], []
        for raw, flags, date in items:
            header, body = fmt.split_message(raw)
            base = fmt.imapbase(row[UIDVALIDITY], uidnext, keywords) \
                if size == 0 and not uids else b""
            parts.append(fmt.render(fmt.from_line(date, sender), header,
                                    fmt.escape_body(body), uid=uid,
                                    flags=folder.spelling(box_id, flags), base=base,
                                    recent=True))
            uids.append(uid)
            uid += 1
        blob = b"".join(parts)
        if before_write is not None:
            before_write(size, size + len(blob), zlib.crc32(blob))
        _write(folder.journal_path(os.fstat(fd)), fd, size, blob, folder.store.modes)
        if size > 0:
            folder.set_uidnext_in_file(db, fd, box_id, uidnext)
        spans = fmt.parse_fd(fd, size + len(lead), size + len(blob))
        modseq = row[MODSEQ] + 1
        for new_uid, span in zip(uids, spans, strict=True):
            db.execute(
                "INSERT OR REPLACE INTO message (mailbox_id, uid, base, filename, flags,"
                " modseq, size, internal_date) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                (box_id, new_uid, str(new_uid), flags_to_text(span.flags), modseq, span.vsize,
                 span.date))
            put_span(db, box_id, new_uid, span)
        if size == 0:
            db.execute("UPDATE mbox_file SET base_off = ? WHERE mailbox_id = ?",
                       (spans[0].base_off if spans else -1, box_id))
        db.execute("UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                   (uidnext, modseq, box_id))
        folder.stamp(db, fd, box_id)
        return row[UIDVALIDITY], uids
