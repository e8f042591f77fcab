"""A model of one user's mail: mailboxes, messages, UIDs, flags and keywords.

The model is the truth the fuzzer holds the server to. Messages are told apart
by size: message number ``fid`` is built ``300 + fid`` octets long, so
``RFC822.SIZE`` (which needs no MIME parsing) identifies it. A message delivered
from outside has no UID until the server reveals one; the UID it gets must be
above every UID the mailbox had given out when it was delivered (``floor``).
"""

from __future__ import annotations

import attrs

SYSTEM = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
KEYWORDS = ("$Junk", "work", "k1", "Later")


def message_bytes(fid: int) -> bytes:
    """Message ``fid``: CRLF throughout, ``300 + fid`` octets, so its size names it."""
    head = (b"From: Fuzz <fuzz@example.org>\r\nTo: you@example.org\r\n"
            b"Subject: message %d word%d\r\nX-Fuzz-Id: %d\r\n\r\n" % (fid, fid % 3, fid))
    body = b"body of message %d\r\n" % fid
    pad = 300 + fid - len(head) - len(body) - 2
    return head + body + b"x" * pad + b"\r\n"


def fid_of_size(size: int) -> int:
    return size - 300


@attrs.define
class Msg:
    fid: int
    uid: int | None
    flags: set[str]
    floor: int = 0  # for uid None: the UID it gets must be above this
    delivered: bool = False  # dropped into new/ from outside: its UID comes from a later sync

    @property
    def size(self) -> int:
        return 300 + self.fid


@attrs.define
class Box:
    msgs: list[Msg] = attrs.Factory(list)
    validity: int | None = None
    max_uid: int = 0  # highest UID ever given out here (as far as the model knows)
    gone: set[int] = attrs.Factory(set)  # expunged UIDs
    floor_from_prior: int = 0
    # came by RENAME: it brings its own UIDVALIDITY and UIDs, which may be those an
    # earlier mailbox of this name had (c -> b -> c), so no floor from the name's past
    renamed: bool = False

    def by_uid(self, uid: int | None) -> Msg | None:
        if uid is None:
            return None
        for msg in self.msgs:
            if msg.uid == uid:
                return msg
        return None

    def known_uids(self) -> list[int]:
        return sorted(m.uid for m in self.msgs if m.uid is not None)

    def add_uid(self, msg: Msg, uid: int, why: str) -> None:
        """The server gave ``msg`` UID ``uid``: it must be fresh and above all before."""
        # A message delivered from outside may have been given its UID by a sync that
        # ran before a UID the client already learnt (APPEND syncs new/ first): its
        # floor is what the mailbox had given out when it was delivered, not max_uid.
        if msg.uid is not None:
            floor = 0
        elif msg.delivered:
            floor = max(msg.floor, self.floor_from_prior)
        else:
            floor = max(self.max_uid, self.floor_from_prior)
        if uid in self.gone or self.by_uid(uid) is not None:
            raise AssertionError(f"{why}: UID {uid} reused")
        if uid <= floor:
            raise AssertionError(f"{why}: UID {uid} is not above {floor}, the highest before it")
        msg.uid = uid
        self.max_uid = max(self.max_uid, uid)

    def learn_validity(self, validity: int, prior: list[tuple[int, int]], why: str) -> None:
        if self.validity is None:
            self.validity = validity
            for old_validity, old_max in [] if self.renamed else prior:
                if old_validity == validity:  # same UIDVALIDITY: old UIDs must not return
                    self.floor_from_prior = max(self.floor_from_prior, old_max)
        elif self.validity != validity:
            raise AssertionError(f"{why}: UIDVALIDITY changed from {self.validity} to {validity}")


@attrs.define
class Model:
    boxes: dict[str, Box] = attrs.Factory(lambda: {"INBOX": Box()})
    prior: dict[str, list[tuple[int, int]]] = attrs.Factory(dict)
    subscribed: set[str] = attrs.Factory(set)
    next_fid: int = 1

    def new_fid(self) -> int:
        fid = self.next_fid
        self.next_fid += 1
        return fid

    def delete(self, name: str) -> None:
        box = self.boxes.pop(name)
        if box.validity is not None:
            self.prior.setdefault(name, []).append((box.validity, box.max_uid))

    def resolve_unknown(self, box: Box, uid: int, size: int, flags: frozenset[str] | None,
                        why: str) -> Msg:
        """A UID the model did not know: match it to a delivered message by size."""
        fid = fid_of_size(size)
        candidates = [m for m in box.msgs if m.uid is None and m.fid == fid]
        # copies of one message share its size: prefer the one whose flags match
        candidates.sort(key=lambda m: flags is None or frozenset(m.flags) != flags)
        for msg in candidates:
            box.add_uid(msg, uid, why)
            return msg
        raise AssertionError(f"{why}: UID {uid} (size {size}) is no message the model knows")


def new_msg(fid: int, flags: set[str], floor: int = 0):
    return Msg(fid, None, flags, floor)


def expunge_deleted(box: Box, uids: list[int] | None) -> None:
    for msg in list(box.msgs):
        if "\\Deleted" in msg.flags and (uids is None or msg.uid in uids):
            box.msgs.remove(msg)
            if msg.uid is not None:
                box.gone.add(msg.uid)
