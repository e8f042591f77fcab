"""A folder's ``dovecot-keywords`` file and the flag letters of Maildir file names.

Letters are the Maildir system flags in ASCII order (D=Draft F=Flagged P=passed
R=Answered S=Seen T=Deleted) followed by keyword letters a-z, mapped through the
folder's ``dovecot-keywords`` file (``N name`` per line, letter ``chr(ord('a') + N)``),
exactly as Dovecot does. Letters we do not understand in upper case (P and others)
are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from imapsession.storage.base import LimitExceeded, StorageError
from imapsession.storage.modes import Modes

KEYWORDS_FILE = "dovecot-keywords"
MAX_KEYWORDS = 26


_LETTER_TO_FLAG = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
_FLAG_TO_LETTER = {flag: letter for letter, flag in _LETTER_TO_FLAG.items()}


class Keywords:
    """A folder's ``dovecot-keywords`` letter map, re-read only when the file changes."""

    def __init__(self, folder: str, modes: Modes | None = None):
        self.path = os.path.join(folder, KEYWORDS_FILE)
        self._modes = modes if modes is not None else Modes.of(folder)
        self.names: list[str | None] = []
        self._stamp: tuple[int, int] | None = None
        self._lower: dict[str, int] = {}

    def load(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.names, self._lower, self._stamp = [], {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        slots: dict[int, str] = {}
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                number, _, keyword = line.rstrip("\n").partition(" ")
                if number.isdigit() and keyword and int(number) < MAX_KEYWORDS:
                    slots[int(number)] = keyword
        size = max(slots) + 1 if slots else 0
        self.names = [slots.get(i) for i in range(size)]
        self._lower = {k.lower(): i for i, k in enumerate(self.names) if k is not None}
        self._stamp = stamp

    def defined(self) -> tuple[str, ...]:
        return tuple(k for k in self.names if k is not None)

    def spelling(self, keyword: str) -> str:
        """The stored spelling of a keyword (IMAP keywords are case-insensitive)."""
        index = self._lower.get(keyword.lower())
        return keyword if index is None else self.names[index]  # type: ignore[return-value]

    def ensure(self, keywords: Iterable[str]) -> None:
        """Give each keyword a letter, writing the file; call under the index write lock."""
        self.load()
        missing = [k for k in keywords if k.lower() not in self._lower]
        if not missing:
            return
        names_now = list(self.names)
        for keyword in dict.fromkeys(missing):
            free = next((i for i, k in enumerate(names_now) if k is None), len(names_now))
            if free >= MAX_KEYWORDS:
                raise LimitExceeded(
                    f"Too many keywords in this mailbox (Maildir holds at most {MAX_KEYWORDS})"
                )
            if free == len(names_now):
                names_now.append(keyword)
            else:
                names_now[free] = keyword
        text = "".join(f"{i} {k}\n" for i, k in enumerate(names_now) if k is not None)
        self._modes.replace(self.path, text.encode("utf-8"))
        self._stamp = None
        self.load()

    def letters(self, flags: Iterable[str], keep: str = "") -> str:
        """The info letters for ``flags``, plus unknown upper-case letters from ``keep``."""
        chars = {c for c in keep if c.isupper() and c not in _LETTER_TO_FLAG}
        for flag in flags:
            letter = _FLAG_TO_LETTER.get(flag)
            if letter is None:
                index = self._lower.get(flag.lower())
                if index is None:
                    raise StorageError(f"keyword {flag} has no letter")  # ensure() first
                letter = chr(ord("a") + index)
            chars.add(letter)
        return "".join(sorted(chars))

    def flags(self, letters: str) -> frozenset[str]:
        out = set()
        for letter in letters:
            flag = _LETTER_TO_FLAG.get(letter)
            if flag is not None:
                out.add(flag)
            elif "a" <= letter <= "z":
                index = ord(letter) - ord("a")
                if index < len(self.names) and self.names[index] is not None:
                    out.add(self.names[index])
        return frozenset(out)
