"""One session's view of its selected mailbox, and the one place that decides
when other sessions' changes reach the client (Dovecot's imap-sync.c).

The client knows the mailbox as a list of messages numbered 1..n. That list only
changes when this module says so: EXISTS and FETCH FLAGS may go out after any
command; EXPUNGE only where RFC 3501 7.4.1 allows it (not during FETCH, STORE or
SEARCH by sequence number). A message another session expunged stays in the
list, marked gone, until its EXPUNGE can be announced; reading it meanwhile
answers ``MessageGone`` and the command reports ``[EXPUNGEISSUED]`` (RFC 2180).
"""

from __future__ import annotations

import bisect

from imapsession.protocol import serializer
from imapsession.storage.base import Mailbox, MessageRecord, SyncResult

FLAG_ORDER = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


def format_flags(
    flags: frozenset[str], recent: bool = False, keyword_order: tuple[str, ...] = ()
) -> bytes:
    """A flag list as Dovecot orders it: system flags, \\Recent, keywords in mailbox order."""
    ordered = [f for f in FLAG_ORDER if f in flags]
    if recent:
        ordered.append("\\Recent")
    keywords = [f for f in flags if not f.startswith("\\")]
    rank = {keyword: index for index, keyword in enumerate(keyword_order)}
    ordered += sorted(keywords, key=lambda k: (rank.get(k, len(rank)), k))
    return serializer.plist(f.encode() for f in ordered)


class MailboxView:
    """The selected mailbox as this session's client knows it."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.uids: list[int] = []
        self.flags: dict[int, frozenset[str]] = {}
        self.recent: set[int] = set()
        self.gone: set[int] = set()
        self.modseq = 0
        self.uidvalidity = 0
        self.uidnext = 0
        self.keywords: tuple[str, ...] = ()
        self._flag_text: dict[tuple, bytes] = {}
        self.last_message: tuple[int, bytes] | None = None  # (uid, CRLF bytes), see fetch.py
        self.last_stored = None  # (uid, mime.StoredMessage) of a large message, see fetch.py

    @property
    def readonly(self) -> bool:
        return self.mailbox.readonly

    def load(self) -> None:
        """The first sync, at SELECT/EXAMINE."""
        result = self.mailbox.sync(0)
        self.uids = [record.uid for record in result.changed]
        self.flags = {record.uid: record.flags for record in result.changed}
        self.recent = set(result.recent)
        self._absorb(result)

    def _absorb(self, result: SyncResult) -> None:
        self.modseq = result.highest_modseq
        self.uidvalidity = result.uidvalidity
        self.uidnext = result.uidnext
        self.keywords = result.keywords

    # --- lookups ------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def uid_of(self, seq: int) -> int:
        return self.uids[seq - 1]

    # --- the sync point ---------------------------------------------------------------

    def refresh(
        self, allow_expunge: bool, with_uid: bool = False,
        silent_uids: frozenset[int] = frozenset(),
    ) -> list[bytes]:
        """Learn what changed and return the untagged lines that may go out now.

        ``silent_uids``: messages whose flag change this session caused and whose
        FETCH the client asked not to see (STORE .SILENT).
        """
        result = self.mailbox.sync(self.modseq)
        lines: list[bytes] = []
        self.gone.update(result.expunged)
        if allow_expunge and self.gone:
            lines += self._announce_expunges()
        if set(result.keywords) - set(self.keywords):
            self.keywords = result.keywords
            lines += self.flags_lines()
        last = self.uids[-1] if self.uids else 0
        new = [r for r in result.changed if r.uid > last and r.uid not in self.flags]
        changed = [r for r in result.changed if r.uid in self.flags]
        self.recent.update(result.recent)
        if new:
            for record in new:
                self.uids.append(record.uid)
                self.flags[record.uid] = record.flags
            lines.append(b"* %d EXISTS\r\n" % len(self.uids))
            lines.append(b"* %d RECENT\r\n" % len(self.recent))
        lines += self._flag_updates(changed, silent_uids, with_uid)
        self._absorb(result)
        return lines

    def _announce_expunges(self) -> list[bytes]:
        lines = []
        for uid in sorted(self.gone, reverse=True):
            seq = self.seq_of(uid)
            if seq is None:
                continue
            lines.append(b"* %d EXPUNGE\r\n" % seq)
            del self.uids[seq - 1]
            self.flags.pop(uid, None)
            self.recent.discard(uid)
        self.gone.clear()
        return lines

    def _flag_updates(
        self, changed: list[MessageRecord], silent_uids: frozenset[int], with_uid: bool
    ) -> list[bytes]:
        lines = []
        for record in changed:
            if record.uid in self.gone:
                continue
            if self.flags.get(record.uid) == record.flags:
                continue
            self.flags[record.uid] = record.flags
            if record.uid in silent_uids:
                continue
            seq = self.seq_of(record.uid)
            uid = b"UID %d " % record.uid if with_uid else b""
            flags = self.formatted_flags(record.uid)
            lines.append(b"* %d FETCH (%sFLAGS %s)\r\n" % (seq, uid, flags))
        return lines

    def formatted_flags(self, uid: int) -> bytes:
        """The FLAGS list of a message; memoised, since most messages share a few flag sets."""
        key = (self.flags[uid], uid in self.recent, self.keywords)
        text = self._flag_text.get(key)
        if text is None:
            if len(self._flag_text) > 4096:
                self._flag_text.clear()
            text = self._flag_text[key] = format_flags(*key)
        return text

    def apply_own_change(self, record: MessageRecord) -> None:
        """Remember flags this session set, so the next refresh does not repeat them."""
        if record.uid in self.flags:
            self.flags[record.uid] = record.flags

    def forget_expunged(self, uids: list[int]) -> list[bytes]:
        """This session's own EXPUNGE: announce those messages right away."""
        self.gone.update(uids)
        return self._announce_expunges()

    def flags_lines(self) -> list[bytes]:
        keywords = " ".join(self.keywords)
        system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
        allowed = f"{system} {keywords} \\*".replace("  ", " ") if not self.readonly else ""
        return [
            f"* FLAGS ({system}{' ' + keywords if keywords else ''})\r\n".encode(),
            f"* OK [PERMANENTFLAGS ({allowed})] {'Flags permitted.' if allowed else 'Read-only mailbox.'}\r\n".encode(),
        ]


class InvalidMessageSet(ValueError):
    """A sequence number beyond the mailbox (RFC 3501 answers BAD)."""


def resolve(view: MailboxView, sequence, by_uid: bool) -> list[tuple[int, int]]:
    """(sequence number, UID) pairs named by a sequence set, ascending.

    By UID, ``*`` is the highest UID and UIDs that do not exist are ignored
    (RFC 3501 6.4.8); by sequence number, a number past the end is an error.
    """
    if by_uid:
        star = view.uids[-1] if view.uids else 0
        return [(view.seq_of(uid), uid) for uid in sequence.resolve(view.uids, star)]
    count = len(view.uids)
    for low, high in sequence.bounds(count):
        if high > count or low < 1:
            raise InvalidMessageSet("Invalid messageset")
    return [(seq, view.uids[seq - 1]) for seq in sequence.resolve(range(1, count + 1), count)]
