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

from imapsession.storage.modes import Modes

MARKER_NAME = "imapsession.uidvalidity"  # exists once indexed; holds the last UIDVALIDITY
UIDLIST_FILE = "dovecot-uidlist"


def read_dovecot_uidlist(folder: str) -> tuple[int, int, dict[str, int]] | None:
    """(uidvalidity, uidnext, base -> uid) from ``dovecot-uidlist`` v1 or v3, or None."""
    try:
        with open(os.path.join(folder, UIDLIST_FILE), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    if not lines:
        return None
    header = lines[0].split()
    try:
        if header[0] == "3":
            fields = {item[0]: item[1:] for item in header[1:] if item}
            uidvalidity, uidnext = int(fields["V"]), int(fields["N"])
        elif header[0] == "1":
            uidvalidity, uidnext = int(header[1]), int(header[2])
        else:
            return None
    except (KeyError, ValueError, IndexError):
        return None
    uids: dict[str, int] = {}
    for line in lines[1:]:
        number, _, rest = line.partition(" ")
        if not number.isdigit():
            continue
        head, colon, filename = rest.partition(":")
        if not colon:  # version 1, or a v3 line without extension fields
            filename = rest.split(" ")[-1] if header[0] == "1" else head.strip()
        base = filename.partition(":")[0].strip()
        if base:
            uids[base] = int(number)
    if uids:
        uidnext = max(uidnext, max(uids.values()) + 1)
    return uidvalidity, uidnext, uids


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
