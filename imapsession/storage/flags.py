"""Flags as both backends keep them in the index, and the checks a client's flags pass.

The index holds a message's flags as one text, the names sorted and joined by
spaces; the same few texts recur across a mailbox, so each becomes a frozenset
once and is shared. ``check_flags`` is the gate every flag a client sends passes
before a backend stores it; ``stored_flags`` computes what a STORE leaves.
"""

from __future__ import annotations

from collections.abc import Iterable

from imapsession.storage.base import SYSTEM_FLAGS, StorageError, StoreMode

_EMPTY: frozenset[str] = frozenset()


def flags_to_text(flags: Iterable[str]) -> str:
    return " ".join(sorted(flags))


_flag_sets: dict[str, frozenset[str]] = {"": _EMPTY}


def flags_from_text(text: str) -> frozenset[str]:
    value = _flag_sets.get(text)
    if value is None:
        value = _flag_sets[text] = frozenset(text.split())
    return value


def check_flags(flags: Iterable[str]) -> frozenset[str]:
    out = set()
    for flag in flags:
        if flag.startswith("\\"):
            if flag.lower() == "\\recent":
                continue
            canonical = next((f for f in SYSTEM_FLAGS if f.lower() == flag.lower()), None)
            if canonical is None:
                raise StorageError(f"Invalid system flag {flag}")
            out.add(canonical)
        elif not flag or any(c in _NOT_IN_KEYWORD or ord(c) < 0x20 or ord(c) > 0x7E for c in flag):
            # A keyword must fit one line of dovecot-keywords and one IMAP atom.
            raise StorageError(f"Invalid keyword {flag!r}")
        else:
            out.add(flag)
    return frozenset(out)


_NOT_IN_KEYWORD = set(' (){%*"\\]')


def stored_flags(mode: StoreMode, old: frozenset[str], wanted: frozenset[str]) -> frozenset[str]:
    """A message's flags after STORE FLAGS / +FLAGS / -FLAGS (keywords match without case)."""
    if mode == "set":
        return wanted
    if mode == "add":
        return old | wanted
    lowered = {f.lower() for f in wanted}
    return frozenset(f for f in old if f.lower() not in lowered)
