"""The subscriptions file, as Dovecot 2.3 writes it, for every backend.

``V<TAB>2``, an empty line, then one name per line with its hierarchy levels
joined by TAB, each level spelled as the backend stores names on disk (so Dovecot
reads ours and we read its). A version-1 file (one name per line, levels joined
by the backend's old separator) is read too. Writes replace the file atomically
under the index's write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import imapsession.storage.names as names
from imapsession.storage.base import StorageError
from imapsession.storage.modes import Modes

HEADER = "V\t2\n\n"
_UNESCAPE = {"1": "\x01", "t": "\t", "r": "\r", "n": "\n", "0": "\x00"}


def tab_unescape(text: str) -> str:
    """Undo Dovecot's \\x01 escapes in a TAB-separated field."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x01" and i + 1 < len(text):
            out.append(_UNESCAPE.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class Subscriptions:
    """One user's subscribed names (Unicode, ``/`` separated), kept in ``path``."""

    def __init__(self, path: str, lock: Callable[[], AbstractContextManager],
                 encode: Callable[[str], str], decode: Callable[[str], str],
                 v1_separator: str, modes: Modes):
        self.path = path
        self._modes = modes
        self._lock = lock  # the index's write lock: one writer at a time
        self._encode = encode  # a name level as stored on disk
        self._decode = decode
        self._v1_separator = v1_separator

    def names(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except FileNotFoundError:
            return []
        v2 = text.startswith(HEADER)
        if v2:
            text = text[len(HEADER):]
        out: list[str] = []
        for line in text.split("\n"):
            if not line:
                continue
            levels = ([tab_unescape(p) for p in line.split("\t")] if v2
                      else line.split(self._v1_separator))
            try:
                name = names.normalize("/".join(self._decode(level) for level in levels))
            except (ValueError, StorageError):
                continue  # a line we cannot read is skipped, as Dovecot skips it
            if name not in out:
                out.append(name)
        return out

    def _write(self, subscribed: list[str]) -> None:
        lines = "".join("\t".join(self._encode(level) for level in name.split("/")) + "\n"
                        for name in subscribed)
        self._modes.replace(self.path, (HEADER + lines).encode("utf-8"))

    def add(self, name: str) -> None:
        canonical = names.normalize(name)
        with self._lock():
            subscribed = self.names()
            if canonical not in subscribed:
                self._write(subscribed + [canonical])

    def remove(self, name: str) -> None:
        canonical = names.normalize(name)
        with self._lock():
            subscribed = self.names()
            if canonical in subscribed:
                self._write([n for n in subscribed if n != canonical])


class SubscribedStore:
    """LSUB's three operations for a store, given its ``_subscriptions()`` file."""

    def _subscriptions(self) -> Subscriptions:
        raise NotImplementedError

    def subscriptions(self) -> set[str]:
        return set(self._subscriptions().names())

    def subscribe(self, name: str) -> None:
        self._subscriptions().add(name)

    def unsubscribe(self, name: str) -> None:
        self._subscriptions().remove(name)
