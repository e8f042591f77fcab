"""Checks shared by the rules: the tagged status an answer must have."""

from __future__ import annotations

from fuzz.harness import FuzzFailure


def fail(text: str) -> FuzzFailure:
    return FuzzFailure(text)


def uid_gone(by_uid: bool, live: list, uids: list) -> bool:
    """A UID command naming a UID expunged elsewhere: OK (nothing there) or NO, either."""
    return by_uid and len(live) != len(uids)


def check_complete(tagged, all_live: bool, hidden: bool) -> None:
    """OK when every message named still exists, else NO [EXPUNGEISSUED] (as Dovecot).

    ``hidden``: the view holds a message expunged elsewhere whose UID the client
    never learnt (no FETCH may reveal it now); a UID set may name it, so either.
    """
    if hidden and tagged.name in ("OK", "NO"):
        return
    check_status(tagged, "OK" if all_live else "NO")


def check_status(tagged, expected: str) -> None:
    if tagged.name != expected:
        raise fail(f"expected {expected}, got {tagged.raw!r}")


def status_checker(status: str):
    def check(untagged, tagged):
        check_status(tagged, status)
    return check


def check_any_status(untagged, tagged) -> None:
    if tagged.name == "BAD" and b"Invalid messageset" not in tagged.raw \
            and b"needs a selected mailbox" not in tagged.raw:
        raise fail(f"a valid command was refused: {tagged.raw!r}")
