"""Saving into a Maildir: APPEND's tmp/ -> new/ or cur/, and the links COPY makes.

A message is spooled into tmp/ and fsynced, then hard-linked under a fresh
unique name into new/ (no flags) or cur/ (with its letters) and indexed in the
same write transaction; where a link is impossible (another file system) the
file is copied instead, through tmp/ again.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime

from imapsession import clock
from imapsession.storage.base import SYSTEM_FLAGS, AppendResult, SpoolFile, StorageError
from imapsession.storage.flags import check_flags, flags_to_text
from imapsession.storage.maildir.filenames import size_stem
from imapsession.storage.maildir.folder import FolderOwner
from imapsession.storage.modes import Modes
from imapsession.storage.spool import TmpSpool, unique_base

NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def link_unique(src: str, folder: str, subdir: str, stem: str, letters: str | None) -> str:
    """Hard-link ``src`` into ``folder/subdir`` under a fresh unique name; returns 'sub/name'.

    ``stem`` is the size suffix (``,S=..,W=..``); a name collision retries with a new base.
    """
    for _ in range(100):
        base = unique_base() + stem
        name = base if letters is None else f"{base}:2,{letters}"
        try:
            os.link(src, os.path.join(folder, subdir, name))
            return f"{subdir}/{name}"
        except FileExistsError:
            continue
    raise StorageError("could not find a unique file name")


def spool_copy(src: str, tmp_dir: str, modes: Modes) -> TmpSpool:
    """A copy of ``src`` in ``tmp_dir``, fsynced, with its times: where a hard link cannot
    be made. The caller links or renames it into place, then discards the spool."""
    spool = TmpSpool(tmp_dir, modes)
    try:
        with open(src, "rb") as handle:
            while chunk := handle.read(1 << 20):
                spool.write(chunk)
        path = spool.finish()
        st = os.stat(src)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    except BaseException:
        spool.discard()
        raise
    return spool


def copy_file(src: str, folder: str, stem: str, letters: str | None, modes: Modes,
              sub: str = "cur") -> str:
    """Cross-file-system copy: tmp/, fsync, same mtime, then link into cur/ (or new/)."""
    spool = spool_copy(src, os.path.join(folder, "tmp"), modes)
    try:
        return link_unique(spool.path, folder, sub, stem, letters)
    finally:
        spool.discard()


def save_message(
    store: FolderOwner,
    name: str,
    message: bytes | SpoolFile,
    flags: frozenset[str],
    internal_date: datetime | None,
) -> AppendResult:
    """APPEND: store a message atomically (tmp/, fsync, link); consumes a SpoolFile."""
    try:
        folder = store.existing_folder(name)
        wanted = check_flags(flags)
        if isinstance(message, TmpSpool):
            spool = message
        elif isinstance(message, SpoolFile):
            spool = TmpSpool(os.path.join(folder.path, "tmp"), store.modes)
            spool.write(message.read_all())
            message.discard()
        else:
            spool = TmpSpool(os.path.join(folder.path, "tmp"), store.modes)
            spool.write(message)
    except BaseException:
        if isinstance(message, SpoolFile):
            message.discard()
        raise
    try:
        path = spool.finish()
        if internal_date is not None or clock.injected():
            stamp = clock.now() if internal_date is None else internal_date.timestamp()
            os.utime(path, (stamp, stamp))
        st = os.stat(path)
        stem = size_stem(spool.size, spool.vsize)
        with store.index.write() as db, folder.locked():
            row = folder.row()
            found = folder.uidlist(row) if row is not None else None
            if row is None or found is None or found.next_uid() != row[2]:
                # new, copied, Dovecot gave UIDs, or the file lost a line: scan and settle
                row = folder.ensure(db, move_new=False)
            folder.keywords.ensure(sorted(f for f in wanted if f not in SYSTEM_FLAGS))
            wanted = frozenset(
                f if f in SYSTEM_FLAGS else folder.keywords.spelling(f) for f in wanted
            )
            sub, letters = ("cur", folder.keywords.letters(wanted)) if wanted else ("new", None)
            try:
                final = link_unique(path, folder.path, sub, stem, letters)
            except OSError as exc:
                if exc.errno not in NO_LINK:  # spool on another file system: copy it
                    raise
                final = copy_file(path, folder.path, stem, letters, store.modes, sub)
            uid, modseq = row[2], row[3] + 1
            db.execute(
                "INSERT INTO message (mailbox_id, uid, base, filename, flags, modseq, size,"
                " internal_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row[0],
                    uid,
                    final.split("/", 1)[1].partition(":")[0],
                    final,
                    flags_to_text(wanted),
                    modseq,
                    spool.vsize,
                    st.st_mtime_ns,
                ),
            )
            db.execute(
                "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?",
                (uid + 1, modseq, row[0]),
            )
            folder.settle(db, [(uid, final.split("/", 1)[1].partition(":")[0])])
        fsync_dir(os.path.dirname(os.path.join(folder.path, final)))
        return AppendResult(row[1], uid)
    finally:
        spool.discard()
