"""One user's mbox tree: the mailbox files, CREATE/DELETE/RENAME, subscriptions, STATUS.

Folders are files under ROOT, subfolders live in directories (so a folder that
holds mail cannot have children: Dovecot's ``\\NoInferiors``), INBOX is wherever
``INBOX=`` says (``ROOT/inbox`` by default). Names are modified UTF-7 per level
on disk, as Dovecot writes them; levels beginning with ``.`` are refused because
ROOT/.imap holds our index, journals and spool (next to Dovecot's own index) and
``.subscriptions`` the subscriptions.
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
from imapsession.storage.flags import check_flags
from imapsession.storage.index import Index
from imapsession.storage.mbox.folder import (
    FILE_ROWS,
    ID,
    Folder,
)
from imapsession.storage.mbox.mailbox import MboxMailbox
from imapsession.storage.mbox.move_intent import clear_partial, intent_path
from imapsession.storage.mbox.move_intent import recover as recover_move
from imapsession.storage.mbox.save import append_messages
from imapsession.storage.modes import Modes
from imapsession.storage.rows import drop_mailbox_rows, status_of
from imapsession.storage.spool import TmpSpool, sweep
from imapsession.storage.subscriptions import SubscribedStore, Subscriptions
from imapsession.text.mutf7 import mutf7_decode, mutf7_encode

STATE_DIR = ".imap"
INDEX_NAME = "imapsession.index.sqlite"
SUBSCRIPTIONS_FILE = ".subscriptions"
SPOOL_DIR = "imapsession-tmp"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mbox_file (
    mailbox_id INTEGER PRIMARY KEY,
    keywords TEXT NOT NULL DEFAULT '',     -- defined keywords, newline-separated, in order
    base_off INTEGER NOT NULL DEFAULT -1   -- offset of X-IMAPbase's UIDNEXT digits, -1: none
);
CREATE TABLE IF NOT EXISTS mbox_span (
    mailbox_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    from_off INTEGER NOT NULL,
    hdr_off INTEGER NOT NULL,
    hdr_end INTEGER NOT NULL,
    body_off INTEGER NOT NULL,
    end_off INTEGER NOT NULL,
    meta_off INTEGER NOT NULL,
    meta_len INTEGER NOT NULL,
    has_uid INTEGER NOT NULL,              -- X-UID is written in the file
    fingerprint INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
"""


class MboxStore(SubscribedStore, MailStore):
    """One user's mbox tree, INBOX file and index."""

    def __init__(self, root: str, inbox: str | None = None, modes: Modes | None = None):
        self.root = os.path.abspath(root)
        self.inbox = os.path.abspath(inbox) if inbox else os.path.join(self.root, "inbox")
        self.state_dir = os.path.join(self.root, STATE_DIR)
        self.modes = modes if modes is not None else Modes.of(self.root)
        self._index: Index | None = None

    @property
    def index(self) -> Index:
        if self._index is None:
            self.modes.mkdir(self.state_dir)
            for path in (self.state_dir, os.path.join(self.root, SUBSCRIPTIONS_FILE),
                         os.path.join(self.state_dir, SPOOL_DIR)):
                self.modes.tighten(path)
            sweep(os.path.join(self.state_dir, SPOOL_DIR))  # spools of killed sessions
            index = Index(os.path.join(self.state_dir, INDEX_NAME))  # modes from .imap
            with index.write() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            index.on_lock = self._recover
            self._index = index
            intent = intent_path(self.state_dir)
            if os.path.exists(intent) or os.path.exists(intent + ".tmp"):
                with index.write():  # a MOVE a killed session left, before anyone reads
                    clear_partial(self.state_dir)
        return self._index

    def _recover(self, db: sqlite3.Connection) -> None:
        """Complete a MOVE a killed process left (one stat when there is none)."""
        if os.path.exists(intent_path(self.state_dir)):
            recover_move(self, db)

    # names -----------------------------------------------------------------------------

    def _path(self, canonical: str) -> str:
        if canonical == "INBOX":
            return self.inbox
        parts = []
        for part in canonical.split("/"):
            encoded = mutf7_encode(part)
            if encoded.startswith("."):
                raise InvalidMailboxName("Mailbox name levels must not begin with '.'")
            if len(encoded.encode()) > names.NAME_MAX:
                raise InvalidMailboxName("Mailbox name is too long")
            parts.append(encoded)
        if parts[-1].endswith(".lock"):
            raise InvalidMailboxName("Mailbox names ending in .lock are kept for dot-locks")
        path = os.path.join(self.root, *parts)
        if len(os.fsencode(path)) + 16 > names.PATH_MAX:
            raise InvalidMailboxName("Mailbox name makes a path that is too long")
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)  # a planted symlink (to a file or a directory) is refused
        if not real.startswith(real_root + os.sep) or real != os.path.join(
                os.path.realpath(os.path.dirname(path)), os.path.basename(path)):
            raise InvalidMailboxName("Mailbox name would leave the mail root")
        return path

    def _folder(self, name: str) -> Folder:
        canonical = names.normalize(name)
        return Folder(self, canonical, self._path(canonical))

    def existing_folder(self, name: str) -> Folder:
        folder = self._folder(name)
        if folder.name != "INBOX" and not folder.exists():
            raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
        return folder

    def _entries(self) -> dict[str, bool]:
        """name -> selectable for every file and directory under the root."""
        out: dict[str, bool] = {}
        inbox = os.path.realpath(self.inbox)

        def walk(directory: str, prefix: str) -> None:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                return
            for entry in entries:
                if entry.name.startswith(".") or entry.name.endswith(".lock"):
                    continue
                try:
                    part = mutf7_decode(entry.name)
                except ValueError:
                    continue
                if mutf7_encode(part) != entry.name:
                    continue
                name = prefix + part
                try:
                    if names.normalize(name) != name:
                        continue
                except StorageError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    out[name] = False
                    walk(entry.path, name + "/")
                elif entry.is_file(follow_symlinks=False):
                    if os.path.realpath(entry.path) == inbox:
                        continue
                    out[name] = True

        walk(self.root, "")
        return out

    # tree -------------------------------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        selectable = self._entries()
        selectable["INBOX"] = True
        parents = {name.rsplit("/", 1)[0] for name in selectable if "/" in name}
        ordered = sorted(selectable, key=lambda n: (n != "INBOX", n))
        return [MailboxInfo(n, selectable[n], n in parents) for n in ordered]

    def create_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        with self.index.write():
            if os.path.lexists(folder.path):
                raise MailboxExists(f"Mailbox already exists: {folder.name}")
            parent = os.path.dirname(folder.path)
            probe = parent
            while len(probe) > len(self.root):
                if os.path.isfile(probe) or os.path.realpath(probe) == os.path.realpath(
                        self.inbox):
                    raise StorageError("Mailbox doesn't allow inferior mailboxes")
                probe = os.path.dirname(probe)
            self.modes.mkdir(parent)
            if not self.modes.create_empty(folder.path):
                raise MailboxExists(f"Mailbox already exists: {folder.name}")

    def delete_mailbox(self, name: str) -> None:
        folder = self._folder(name)
        if folder.name == "INBOX":
            raise StorageError("INBOX can't be deleted.")
        with self.index.write() as db:
            if os.path.isdir(folder.path):
                if os.listdir(folder.path):
                    raise MailboxNotEmpty(
                        f"Mailbox {folder.name} has children and is not selectable;"
                        " delete its children first")
                os.rmdir(folder.path)
                return
            if not os.path.isfile(folder.path):
                raise NoSuchMailbox(f"Mailbox doesn't exist: {folder.name}")
            st = os.stat(folder.path)
            os.unlink(folder.path)
            for path in (folder.journal_path(st), folder.path + ".lock"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            row = folder.row()
            if row is not None:
                drop_mailbox_rows(db, row[ID], FILE_ROWS)

    def rename_mailbox(self, old: str, new: str) -> None:
        src = self._folder(old)
        dst = self._folder(new)
        if dst.name == "INBOX":
            raise MailboxExists("Mailbox already exists: INBOX")
        if src.name == dst.name:
            raise MailboxExists(f"Mailbox already exists: {dst.name}")
        if dst.name.startswith(src.name + "/"):
            raise InvalidMailboxName("Can't rename a mailbox under itself")
        if src.name == "INBOX":
            self.create_mailbox(dst.name)
            inbox = MboxMailbox(self.existing_folder("INBOX"), readonly=False)
            with self.index.write() as db:
                row = inbox._row()
                uids = [u for (u,) in db.execute(
                    "SELECT uid FROM message WHERE mailbox_id = ?", (row[ID],))]
                inbox.move_to(uids, dst.name)
            return
        with self.index.write() as db:
            if not os.path.lexists(src.path):
                raise NoSuchMailbox(f"Mailbox doesn't exist: {src.name}")
            if os.path.lexists(dst.path):
                raise MailboxExists(f"Mailbox already exists: {dst.name}")
            probe = os.path.dirname(dst.path)
            while len(probe) > len(self.root):
                if os.path.isfile(probe):
                    raise StorageError("Mailbox doesn't allow inferior mailboxes")
                probe = os.path.dirname(probe)
            self.modes.mkdir(os.path.dirname(dst.path))
            os.rename(src.path, dst.path)
            for (child,) in db.execute("SELECT name FROM mailbox").fetchall():
                if child == src.name or child.startswith(src.name + "/"):
                    new_name = dst.name + child[len(src.name):]
                    stale = db.execute("SELECT id FROM mailbox WHERE name = ?",
                                       (new_name,)).fetchone()
                    if stale is not None:
                        drop_mailbox_rows(db, stale[0], FILE_ROWS)
                    db.execute("UPDATE mailbox SET name = ? WHERE name = ?", (new_name, child))

    # subscriptions ------------------------------------------------------------------

    def _subscriptions(self) -> Subscriptions:
        return Subscriptions(os.path.join(self.root, SUBSCRIPTIONS_FILE), self.index.write,
                             mutf7_encode, mutf7_decode, "/", self.modes)

    # mailboxes --------------------------------------------------------------------------

    def status(self, name: str) -> StatusInfo:
        row = MboxMailbox(self.existing_folder(name), readonly=True)._row()
        return status_of(self.index.db, row)

    def open_mailbox(self, name: str, readonly: bool) -> Mailbox:
        folder = self.existing_folder(name)
        if os.path.isdir(folder.path):
            raise NoSuchMailbox(f"Mailbox isn't selectable: {folder.name}")
        return MboxMailbox(folder, readonly)

    def new_spool(self, target: str | None = None) -> SpoolFile:
        tmp = os.path.join(self.state_dir, SPOOL_DIR)
        self.modes.mkdir(tmp)
        return TmpSpool(tmp, self.modes)

    def append(self, name: str, message: bytes | SpoolFile, flags: frozenset[str],
               internal_date: datetime | None) -> AppendResult:
        try:
            folder = self.existing_folder(name)
            if os.path.isdir(folder.path):
                raise NoSuchMailbox(f"Mailbox isn't selectable: {folder.name}")
            wanted = check_flags(flags)
            raw = message.read_all() if isinstance(message, SpoolFile) else message
        finally:
            if isinstance(message, SpoolFile):
                message.discard()
        date = None if internal_date is None else int(internal_date.timestamp()) * 1_000_000_000
        with self.index.write() as db:
            uidvalidity, uids = append_messages(folder, db, [(raw, wanted, date)])
        return AppendResult(uidvalidity, uids[0])

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def open_mbox(root: str, inbox: str | None = None, *, create: bool = True) -> MailStore:
    """The user's mail: folders under ``root``, INBOX at ``inbox`` (``root/inbox`` if None)."""
    if not os.path.isdir(root):
        if not create:
            raise NoSuchMailbox(f"No mail directory at {root}")
        Modes.private().mkdir(root)  # a root we create is 0700, and so are missing parents
    return MboxStore(root, inbox, Modes.of(root))
