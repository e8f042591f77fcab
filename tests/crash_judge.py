"""What a kill may and may not leave behind, defined per operation.

``judge(op, before, after)`` compares the world a fresh process sees after the
kill with the one before, and names what is wrong, one category at most once:

- ``lost``: a message that existed before (or, for MOVE, one being moved) is
  nowhere; ``changed``: a message kept its UID but not its content, or a UID
  now holds something else;
- ``duplicated``: a message twice in a mailbox, or an APPEND stored twice;
- ``partial``: a new message (APPEND, a copy) whose content is not the whole
  original; ``flags``: flags that are neither the old nor the new ones;
- ``uidvalidity``: a surviving mailbox with another UIDVALIDITY; ``uids``: a
  renamed mailbox whose messages have other UIDs;
- ``half-done COPY`` (some of the copies, not all), ``half-done MOVE`` (some
  moved, or a message in both mailboxes), ``half-done RENAME`` (both names).

Old and new, per operation: APPEND adds message ``new1`` with ``(\\Seen NewKw)``
or nothing; COPY copies INBOX 1:5 to Other (each copy with its source's flags);
MOVE moves INBOX 1:3 to Other; EXPUNGE removes the ``\\Deleted`` ones (2 and 4);
STORE adds ``(\\Flagged NewKw)`` to INBOX 2:5; RENAME renames Other to Renamed.
Everything else must be exactly as before.
"""

from __future__ import annotations

from collections import Counter

from crash_world import Box, Message

NEW_TAG = "new1"
APPEND_FLAGS = frozenset({"\\Seen", "NewKw"})
STORE_ADDS = frozenset({"\\Flagged", "NewKw"})
COPIED = range(1, 6)  # INBOX UIDs COPY copies
MOVED = range(1, 4)  # INBOX UIDs MOVE moves
STORED = range(2, 6)  # INBOX UIDs STORE changes (not 1: its block holds X-IMAPbase)
EXPUNGED = {2, 4}  # INBOX UIDs flagged \Deleted in the world


def _same(found: set[str], before: Box, after: Box | None, *, may_go: set[int] = frozenset(),
          new_flags: frozenset[str] = frozenset(), changing: range = range(0)) -> None:
    """Every message of ``before`` is in ``after`` under its UID, unchanged (flags: old, or
    for UIDs in ``changing`` old plus ``new_flags``); those in ``may_go`` may be gone."""
    if after is None:
        found.add("lost")
        return
    if after.uidvalidity != before.uidvalidity:
        found.add("uidvalidity")
    for uid, old in before.messages.items():
        now = after.messages.get(uid)
        if now is None:
            if uid not in may_go:
                found.add("lost")
            continue
        if (now.tag, now.digest) != (old.tag, old.digest):
            found.add("changed")
        elif now.flags != old.flags and (uid not in changing or now.flags != old.flags | new_flags):
            found.add("flags")


def _extras(before: Box, after: Box | None) -> list[Message]:
    if after is None:
        return []
    return [m for uid, m in sorted(after.messages.items()) if uid not in before.messages]


def _twice(found: set[str], box: Box | None) -> None:
    tags = Counter(m.tag for m in (box.messages.values() if box else ()))
    if any(n > 1 for n in tags.values()):
        found.add("duplicated")


def _copies(found: set[str], sources: list[Message], extras: list[Message]) -> set[str]:
    """Check copies against their sources; the tags copied."""
    by_tag = {m.tag: m for m in sources}
    for copy in extras:
        source = by_tag.get(copy.tag)
        if source is None:
            found.add("changed")
        elif copy.digest != source.digest:
            found.add("partial")
        elif copy.flags != source.flags:
            found.add("flags")
    return {m.tag for m in extras if m.tag in by_tag}


def judge(op: str, before: dict[str, Box], after: dict[str, Box],
          new_digest: str = "") -> set[str]:
    """The categories of what is wrong after a kill during ``op`` (empty: all well)."""
    found: set[str] = set()
    inbox, other = before["INBOX"], before["Other"]
    for name, box in after.items():
        if name not in ("INBOX", "Other", "Renamed"):
            found.add("changed")  # a mailbox from nowhere
        _twice(found, box)
    if op == "APPEND":
        _same(found, inbox, after.get("INBOX"))
        _same(found, other, after.get("Other"))
        extras = _extras(inbox, after.get("INBOX"))
        if len(extras) > 1:
            found.add("duplicated")
        for new in extras:
            if new.tag != NEW_TAG or new.digest != new_digest:
                found.add("partial")
            elif new.flags != APPEND_FLAGS:
                found.add("flags")
    elif op in ("COPY", "MOVE"):
        uids = COPIED if op == "COPY" else MOVED
        sources = [inbox.messages[u] for u in uids]
        _same(found, inbox, after.get("INBOX"), may_go=set(uids) if op == "MOVE" else set())
        _same(found, other, after.get("Other"))
        copied = _copies(found, sources, _extras(other, after.get("Other")))
        if op == "COPY" and copied and len(copied) != len(sources):
            found.add("half-done COPY")
        if op == "MOVE":
            left = {m.tag for m in after.get("INBOX", inbox).messages.values()}
            for source in sources:
                if source.tag not in left and source.tag not in copied:
                    found.add("lost")
            if copied & left or (copied and len(copied) != len(sources)):
                found.add("half-done MOVE")
    elif op == "EXPUNGE":
        _same(found, inbox, after.get("INBOX"), may_go=EXPUNGED)
        _same(found, other, after.get("Other"))
        if _extras(inbox, after.get("INBOX")):
            found.add("changed")
    elif op == "STORE":
        _same(found, inbox, after.get("INBOX"), new_flags=STORE_ADDS, changing=STORED)
        _same(found, other, after.get("Other"))
    elif op == "RENAME":
        _same(found, inbox, after.get("INBOX"))
        old_name, new_name = after.get("Other"), after.get("Renamed")
        if old_name is not None and new_name is not None:
            found.add("half-done RENAME")
        elif old_name is None and new_name is None:
            found.add("lost")
        else:
            _renamed(found, other, old_name or new_name)
    else:
        raise ValueError(op)
    return found


def _renamed(found: set[str], before: Box, after: Box) -> None:
    """The mailbox under either name: the same messages, UIDs and UIDVALIDITY."""
    if after.uidvalidity != before.uidvalidity:
        found.add("uidvalidity")
    by_tag = {m.tag: (uid, m) for uid, m in after.messages.items()}
    for uid, old in before.messages.items():
        got = by_tag.get(old.tag)
        if got is None:
            found.add("lost")
        elif got[1].digest != old.digest:
            found.add("changed")
        elif got[1].flags != old.flags:
            found.add("flags")
        elif got[0] != uid:
            found.add("uids")
