"""Dovecot's ``dovecot-uidlist``, adopted on a first open, and our UIDVALIDITY marker.

A maildir Dovecot kept opens with Dovecot's UIDVALIDITY and UIDs (from
``dovecot-uidlist``) the first time we ever index it; from then on we keep that
file current ourselves (``uidlist_file.py``), and a lost index is rebuilt from it.
A marker file (``imapsession.uidvalidity``, holding the last UIDVALIDITY given
out, like Dovecot's ``dovecot-uidvalidity``) tells a first open from a lost
index, so that a uidlist only Dovecot wrote, found beside a lost index of ours
(it may predate UIDs we gave), is not adopted: that folder gets a fresh, strictly
greater UIDVALIDITY instead.
"""

from __future__ import annotations

import os

from imapsession.storage.maildir.uidlist_file import UIDLIST_FILE, load
from imapsession.storage.modes import Modes

MARKER_NAME = "imapsession.uidvalidity"  # exists once indexed; holds the last UIDVALIDITY
__all__ = ["MARKER_NAME", "UIDLIST_FILE", "last_uidvalidity", "read_dovecot_uidlist",
           "remember_uidvalidity"]


def read_dovecot_uidlist(folder: str) -> tuple[int, int, dict[str, int]] | None:
    """(uidvalidity, uidnext, base -> uid) from ``dovecot-uidlist`` v1 or v3, or None."""
    found = load(folder)
    if found is None:
        return None
    return found.uidvalidity, found.next_uid(), found.uid_of()


def last_uidvalidity(root: str) -> int:
    """The last UIDVALIDITY handed out, kept beside the index so a lost index can't reuse it."""
    try:
        with open(os.path.join(root, MARKER_NAME), encoding="ascii") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return 0
    return int(text) if text.isdigit() else 0


def remember_uidvalidity(root: str, value: int, modes: Modes) -> None:
    modes.replace(os.path.join(root, MARKER_NAME), f"{value}\n".encode("ascii"))
