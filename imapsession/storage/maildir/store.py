"""One user's Maildir++ tree: the folder list, CREATE/DELETE/RENAME, subscriptions, STATUS.

Names map to directories through ``storage/names.py`` (Maildir++: folder ``a/b``
is ``ROOT/.a.b/``, INBOX the root itself). DELETE renames a folder aside before
removing it; RENAME of INBOX moves its messages into the new folder.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime

import imapsession.storage.names as names
from imapsession.storage.base import (
    AppendResult,
    InvalidMailboxName,
    Mailbox,
    MailboxExists,
    MailboxInfo,
    MailboxNotEmpty,
    MailStore,
    NoSuchMailbox,
    SpoolFile,
    StatusInfo,
    StorageError,
)
from imapsession.storage.index import Index
from imapsession.storage.maildir.folder import Folder
from imapsession.storage.maildir.intent import clear_partial, intent_path, recover
from imapsession.storage.maildir.mailbox import MaildirMailbox
from imapsession.storage.maildir.save import save_message
from imapsession.storage.maildir.uidlist import MARKER_NAME
from imapsession.storage.modes import Modes
from imapsession.storage.rows import drop_mailbox_rows, status_of
from imapsession.storage.spool import TmpSpool, unique_base
from imapsession.storage.subscriptions import SubscribedStore, Subscriptions

INDEX_NAME = "imapsession.index.sqlite"
SUBSCRIPTIONS_FILE = "subscriptions"
_TRASH_PREFIX = "..imapsession-trash-"


class MaildirStore(SubscribedStore, MailStore):
    """One user's Maildir++ tree and its index."""

    def __init__(self, root: str, index_path: str | None = None, modes: Modes | None = None):
        self.root = os.path.abspath(root)
        self.modes = modes if modes is not None else Modes.of(self.root)
        self._index_path = index_path or os.path.join(self.root, INDEX_NAME)
        self._index: Index | None = None
        self.dovecot_import = False

    @property
    def index(self) -> Index:
        if self._index is None:
            index = Index(self._index_path)  # modes from its directory: the root's rule
            marker = os.path.join(self.root, MARKER_NAME)
            if index.fresh:
                # First index ever for this maildir: Dovecot's UIDs may be adopted.
                # A fresh index beside an existing marker means the old one was lost.
                index.set_meta("dovecot_import", "0" if os.path.exists(marker) else "1")
                self.modes.create_empty(marker)
            for name in (MARKER_NAME, SUBSCRIPTIONS_FILE):
                self.modes.tighten(os.path.join(self.root, name))
            self.dovecot_import = index.get_meta("dovecot_import") == "1"
            index.on_lock = self._recover
            self._index = index
            intent = intent_path(self.root)
            if os.path.exists(intent) or os.path.exists(intent + ".tmp"):
                with index.write():  # a COPY/MOVE a killed session left, before any sweep
                    clear_partial(self.root)
        return self._index

    def _recover(self, db: sqlite3.Connection) -> None:
        """Finish or undo a COPY/MOVE a killed process left (one stat when there is none)."""
        if os.path.exists(intent_path(self.root)):
            recover(db, self.root, self.modes)

    # helpers --------------------------------------------------------------------------

    def _folder(self, name: str) -> Folder:
        canonical = names.normalize(name)
        return Folder(self, canonical, names.folder_path(self.root, canonical))

    def existing_folder(self, name: str) -> Folder:
        folder = self._folder(name)
        if not os.path.isdir(os.path.join(folder.path, "cur")):
            raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
        return folder

    def _folder_entries(self) -> dict[str, tuple[str, bool]]:
        """name -> (directory entry, selectable) for every folder under the root."""
        out: dict[str, tuple[str, bool]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                name = names.name_from_dirname(entry.name)
                if name is None or name == "INBOX":
                    continue
                out[name] = (entry.name, os.path.isdir(os.path.join(entry.path, "cur")))
        return out

    # tree -----------------------------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        folders = self._folder_entries()
        selectable = {name: sel for name, (_, sel) in folders.items()}
        selectable["INBOX"] = True
        for name in list(selectable):
            parts = name.split("/")
            for i in range(1, len(parts)):
                selectable.setdefault("/".join(parts[:i]), False)
        parents = {name.rsplit("/", 1)[0] for name in selectable if "/" in name}
        ordered = sorted(selectable, key=lambda n: (n != "INBOX", n))
        return [MailboxInfo(n, selectable[n], n in parents) for n in ordered]

    def create_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        with self.index.write():
            if os.path.isdir(os.path.join(folder.path, "cur")):
                raise MailboxExists(f"Mailbox already exists: {folder.name}")
            self.modes.mkdir(folder.path)
            for sub in ("tmp", "new", "cur"):
                self.modes.mkdir(os.path.join(folder.path, sub))
            self.modes.create_empty(os.path.join(folder.path, "maildirfolder"))

    def _children(self, name: str) -> list[tuple[str, str]]:
        prefix = name + "/"
        return [(n, e) for n, (e, _) in self._folder_entries().items() if n.startswith(prefix)]

    def delete_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise StorageError("INBOX can't be deleted.")
        with self.index.write() as db:
            exists = os.path.isdir(folder.path)
            selectable = os.path.isdir(os.path.join(folder.path, "cur"))
            children = self._children(folder.name)
            if not selectable and children:
                raise MailboxNotEmpty(
                    f"Mailbox {folder.name} has children and is not selectable;"
                    " delete its children first"
                )
            if not exists:
                raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
            # Maildir++ parents are implied by their children, so removing the folder
            # leaves a non-selectable parent when children exist (RFC 3501 6.3.4).
            trash = os.path.join(self.root, _TRASH_PREFIX + unique_base())
            os.rename(folder.path, trash)
            row = folder.row()
            if row is not None:
                drop_mailbox_rows(db, row[0])
        import shutil  # only DELETE needs it; keep session start-up lean

        shutil.rmtree(trash, ignore_errors=True)

    def rename_mailbox(self, old: str, new: str) -> None:
        src = self._folder(old)
        dst = self._folder(new)
        if dst.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        if src.name == dst.name:
            raise MailboxExists(f"Mailbox already exists: {dst.name}")
        if src.name == "INBOX":
            self._rename_inbox(dst)
            return
        if dst.name.startswith(src.name + "/"):
            raise InvalidMailboxName("Can't rename a mailbox under itself")
        with self.index.write() as db:
            if os.path.isdir(dst.path) or self._children(dst.name):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            moves = [(src.name, os.path.basename(src.path))] if os.path.isdir(src.path) else []
            moves += self._children(src.name)
            if not moves:
                raise NoSuchMailbox(f"Mailbox doesn't exist: {src.name}")
            plan = []
            for child, entry in moves:
                new_name = dst.name + child[len(src.name) :]
                plan.append((entry, self._folder(new_name).path, child, new_name))
            for entry, new_path, _, _ in plan:
                os.rename(os.path.join(self.root, entry), new_path)
            for _, _, child, new_name in plan:
                stale = db.execute("SELECT id FROM mailbox WHERE name = ?", (new_name,)).fetchone()
                if stale is not None:
                    drop_mailbox_rows(db, stale[0])
                db.execute("UPDATE mailbox SET name = ? WHERE name = ?", (new_name, child))

    def _rename_inbox(self, dst: Folder) -> None:
        with self.index.write() as db:
            if os.path.isdir(dst.path):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            self.create_mailbox(dst.name)
            inbox = MaildirMailbox(self._folder("INBOX"), readonly=False)
            row = inbox._folder.ensure(db, move_new=True)
            uids = [u for (u,) in db.execute("SELECT uid FROM message WHERE mailbox_id = ?", (row[0],))]
            inbox.move_to(uids, dst.name)

    # subscriptions ----------------------------------------------------------------------

    def _subscriptions(self) -> Subscriptions:
        return Subscriptions(os.path.join(self.root, SUBSCRIPTIONS_FILE), self.index.write,
                             names.encode_component, names.decode_component, ".", self.modes)

    # mailboxes ----------------------------------------------------------------------

    def status(self, name: str) -> StatusInfo:
        folder = self.existing_folder(name)
        row = folder.row()
        if not folder.fresh(row):
            with self.index.write() as db:
                row = folder.ensure(db, move_new=False)
        assert row is not None
        return status_of(self.index.db, row)

    def open_mailbox(self, name: str, readonly: bool) -> Mailbox:
        folder = self.existing_folder(name)
        _ = self.index  # opening it finishes a killed COPY/MOVE first: tidy() sweeps tmp/
        folder.tidy()
        return MaildirMailbox(folder, readonly)

    def new_spool(self, target: str | None = None) -> SpoolFile:
        tmp = os.path.join(self.root, "tmp")
        if target is not None:
            try:
                candidate = os.path.join(self._folder(target).path, "tmp")
                if os.path.isdir(candidate):
                    tmp = candidate
            except InvalidMailboxName:
                pass
        return TmpSpool(tmp, self.modes)

    def append(
        self,
        name: str,
        message: bytes | SpoolFile,
        flags: frozenset[str],
        internal_date: datetime | None,
    ) -> AppendResult:
        return save_message(self, name, message, flags, internal_date)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def open_maildir(root: str, *, create: bool = True) -> MailStore:
    """The user's mail at ``root`` (a Maildir; cur/ new/ tmp/ are made when ``create``).

    A root we create is 0700 (and so is every missing parent); the modes of all
    else follow the root's (``modes.py``).
    """
    modes = Modes.of(root)  # private when the root is missing
    for sub in ("cur", "new", "tmp"):
        path = os.path.join(root, sub)
        if not os.path.isdir(path):
            if not create:
                raise NoSuchMailbox(f"No maildir at {root}")
            modes.mkdir(path)
    return MaildirStore(root, modes=Modes.of(root))
