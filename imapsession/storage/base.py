"""The storage interface: what every backend (Maildir and mbox) gives the commands.

Theory of operation
-------------------
A ``MailStore`` is one user's mail: the mailbox tree, subscriptions, and a way to
open a mailbox. An opened ``Mailbox`` belongs to one session. The files on disk are
the truth; an SQLite index (``storage/index.py``) remembers UIDs, flags, a
modification sequence per message and tombstones for expunged UIDs, so that
``Mailbox.sync(since)`` can say cheaply what changed since a modseq the session
already knows. The session's view (``imapsession/view.py``) decides when those changes
reach the client; storage never sends anything.

Names crossing this interface are Unicode strings with ``/`` as the hierarchy
separator and ``INBOX`` spelled in upper case. Modified UTF-7 is the protocol's
business, not storage's. Every name is checked by ``storage/names.py`` before it
touches the file system.

Flags are strings: the system flags ``\\Seen \\Answered \\Flagged \\Deleted
\\Draft`` with their backslash, keywords as atoms. ``\\Recent`` is never stored
as a flag: it is reported separately by ``sync``.

Sizes are RFC822.SIZE: octets with every line ending counted as CRLF.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO, Literal

import attrs

SYSTEM_FLAGS = frozenset({"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"})


# --- errors: each carries the response code the client should see -------------------


class StorageError(Exception):
    """A failure the client should hear about as a tagged NO with ``code``."""

    code: str | None = None

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class NoSuchMailbox(StorageError):
    code = "NONEXISTENT"


class MailboxExists(StorageError):
    code = "ALREADYEXISTS"


class InvalidMailboxName(StorageError):
    code = "CANNOT"


class MailboxNotEmpty(StorageError):
    """DELETE of a mailbox that still has children (RFC 3501 6.3.4)."""

    code = "INUSE"


class MessageGone(StorageError):
    """The message was expunged by another session (RFC 2180)."""

    code = "EXPUNGEISSUED"


# COPY/MOVE naming a message that is gone copy nothing and say this, as Dovecot does
GONE_TEXT = "Some of the requested messages no longer exist."


class LimitExceeded(StorageError):
    """E.g. more keywords than the Maildir letter map can hold."""

    code = "LIMIT"


class MailboxInUse(StorageError):
    code = "INUSE"


class StateUntrusted(Exception):
    """A failure midway through a change (files or index half-written): the session
    ends with ``* BYE Internal error`` rather than carry on with a view it cannot trust.
    Nothing is lost: the next session's sync rebuilds its view from the files."""


# --- values ------------------------------------------------------------------------


@attrs.frozen
class MessageRecord:
    """What the index knows cheaply about one message."""

    uid: int
    flags: frozenset[str]
    modseq: int


@attrs.frozen
class MessageMeta:
    """Slower facts, computed from the file once and then cached in the index."""

    size: int  # RFC822.SIZE in CRLF octets
    internal_date: datetime  # timezone-aware


@attrs.frozen
class SyncResult:
    """What changed in a mailbox after the modseq the caller already knew.

    ``changed`` holds every message whose modseq is above ``since`` (with
    ``since=0``: every message), sorted by UID; that includes new messages.
    ``expunged`` holds UIDs expunged after ``since`` (empty when ``since=0``).
    ``recent`` holds UIDs that this session owns as ``\\Recent`` and learns of in
    this call (claimed only by a read-write open, as RFC 3501 2.3.2 says).
    """

    uidvalidity: int
    uidnext: int
    highest_modseq: int
    changed: tuple[MessageRecord, ...]
    expunged: tuple[int, ...]
    recent: frozenset[int]
    keywords: tuple[str, ...]  # keywords defined in this mailbox, for FLAGS/PERMANENTFLAGS


@attrs.frozen
class MailboxInfo:
    """One LIST entry."""

    name: str
    selectable: bool = True
    has_children: bool = False


@attrs.frozen
class StatusInfo:
    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int
    highest_modseq: int


@attrs.frozen
class AppendResult:
    uidvalidity: int
    uid: int


@attrs.frozen
class CopyResult:
    """UIDPLUS COPYUID data: source UIDs and the UIDs they got in the target, pairwise."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    target_uids: tuple[int, ...]


StoreMode = Literal["set", "add", "remove"]


# --- interfaces --------------------------------------------------------------------


class Mailbox(abc.ABC):
    """One mailbox opened by one session (SELECT or EXAMINE)."""

    name: str
    readonly: bool

    @abc.abstractmethod
    def sync(self, since_modseq: int = 0) -> SyncResult:
        """Bring the index up to date with the files, then report changes after ``since_modseq``."""

    @abc.abstractmethod
    def meta(self, uid: int) -> MessageMeta:
        """Size and internal date, from the index cache; computed and cached on first use.

        Raises ``MessageGone`` if the message no longer exists.
        """

    @abc.abstractmethod
    def read_message(self, uid: int) -> bytes:
        """The message exactly as stored (line endings as on disk). Raises ``MessageGone``."""

    @abc.abstractmethod
    def open_message(self, uid: int) -> BinaryIO:
        """A binary file object on the stored message, for streaming. Raises ``MessageGone``."""

    @abc.abstractmethod
    def store_flags(
        self,
        uids: Iterable[int],
        mode: StoreMode,
        flags: frozenset[str],
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageRecord], list[int]]:
        """Change flags and keywords; returns (records after the change, UIDs that failed).

        Messages whose flags do not change keep their modseq and are still returned.
        UIDs that no longer exist are skipped silently (not in either list). With
        ``unchanged_since`` (CONDSTORE), messages with a higher modseq are not changed
        and are returned in the second list. Raises ``LimitExceeded`` when a new
        keyword cannot be stored. Read-only mailboxes raise ``StorageError``.
        """

    @abc.abstractmethod
    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        """Remove messages flagged ``\\Deleted`` (only among ``uids`` when given).

        Returns the UIDs actually removed, ascending. Tombstones record them.
        """

    @abc.abstractmethod
    def copy_to(self, uids: Iterable[int], target: str) -> CopyResult:
        """Copy messages (with flags, keywords and internal date) into another mailbox.

        All or nothing: a UID that is gone (expunged, or its file removed) raises
        ``MessageGone`` and the target is left as it was (RFC 3501 6.4.7, RFC 2180 4.4).
        """

    @abc.abstractmethod
    def move_to(self, uids: Iterable[int], target: str) -> CopyResult:
        """Copy, then expunge the sources regardless of ``\\Deleted`` (RFC 6851); all or
        nothing as ``copy_to``, the sources untouched when it raises."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the mailbox; nothing is expunged here (CLOSE's expunge is the caller's)."""

    def cached(self, uid: int, field: str) -> bytes | None:
        """A value computed from the message before (e.g. its ENVELOPE), or None.

        Messages never change, so whatever was remembered stays true. Backends
        without a cache keep the default.
        """
        return None

    def remember(self, uid: int, field: str, value: bytes) -> None:  # noqa: B027
        """Keep a value computed from the message for ``cached``; may be written lazily.

        Deliberately not abstract: a backend without a cache simply forgets.
        """


class SpoolFile(abc.ABC):
    """Where a large APPEND literal is streamed, chunk by chunk, never held in memory."""

    @abc.abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @property
    @abc.abstractmethod
    def size(self) -> int: ...

    @abc.abstractmethod
    def read_all(self) -> bytes:
        """For small spools only (e.g. a mailbox name sent as a literal)."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Remove the file; safe to call twice, and after ``append`` consumed it."""


class MailStore(abc.ABC):
    """One user's mail."""

    hierarchy_separator = "/"

    @abc.abstractmethod
    def list_mailboxes(self) -> list[MailboxInfo]:
        """Every mailbox, INBOX included, plus non-selectable parents implied by children."""

    @abc.abstractmethod
    def create_mailbox(self, name: str) -> None:
        """Create ``name`` and any missing parents (RFC 3501 6.3.3)."""

    @abc.abstractmethod
    def delete_mailbox(self, name: str) -> None:
        """Delete; INBOX cannot be deleted; a mailbox with children becomes non-selectable."""

    @abc.abstractmethod
    def rename_mailbox(self, old: str, new: str) -> None:
        """Rename with children; renaming INBOX moves its messages and leaves INBOX empty."""

    @abc.abstractmethod
    def subscriptions(self) -> set[str]: ...

    @abc.abstractmethod
    def subscribe(self, name: str) -> None: ...

    @abc.abstractmethod
    def unsubscribe(self, name: str) -> None: ...

    @abc.abstractmethod
    def status(self, name: str) -> StatusInfo:
        """Counts for STATUS; must not claim ``\\Recent``."""

    @abc.abstractmethod
    def open_mailbox(self, name: str, readonly: bool) -> Mailbox: ...

    @abc.abstractmethod
    def new_spool(self, target: str | None = None) -> SpoolFile:
        """A spool file on the same file system as ``target`` (its tmp/ in Maildir)."""

    @abc.abstractmethod
    def append(
        self,
        name: str,
        message: bytes | SpoolFile,
        flags: frozenset[str],
        internal_date: datetime | None,
    ) -> AppendResult:
        """Store a message atomically (tmp/, fsync, rename). Consumes a SpoolFile."""

    @abc.abstractmethod
    def close(self) -> None: ...
