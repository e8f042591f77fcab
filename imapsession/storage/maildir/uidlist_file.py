"""``dovecot-uidlist`` read, appended to and rewritten as Dovecot does (version 3).

The file is the folder's record of UIDs: it travels with the folder (``cp -a``,
``rsync``, a restore) where the index may not. Layout (Dovecot's
maildir-uidlist.c)::

    3 V<uidvalidity> N<nextuid> G<guid hex> m<modseq floor>
    <uid> [<ext> ...] :<base name>

New UIDs are appended as lines (Dovecot appends too; a v3 reader takes a UID
past ``N`` as raising it), so an APPEND costs one short write, not a rewrite.
A rewrite (new file ``dovecot-uidlist.tmp``, renamed over the old one, under the
lock) drops lines of messages that are gone and carries the header fields.
``m`` is ours: a modseq at or above every modseq this folder has handed out, so
an index rebuilt from this file never lets HIGHESTMODSEQ go backwards. Dovecot
keeps header fields it does not know when it rewrites the file (its
``hdr_extensions``); lower case keeps clear of its own upper-case keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from imapsession.storage.modes import Modes

UIDLIST_FILE = "dovecot-uidlist"
FLOOR_KEY = "m"


@dataclass
class Uidlist:
    """One parse of a folder's uidlist, and where it ended (for reading only what follows)."""

    version: int
    uidvalidity: int
    header_next: int
    guid: str = ""
    floor: int | None = None  # None: not written by us (no ``m`` field)
    extra: list[str] = field(default_factory=list)  # header fields kept as they are
    records: dict[str, tuple[int, str]] = field(default_factory=dict)  # base -> (uid, ext)
    last_uid: int = 0
    header: bytes = b""
    ino: int = 0
    size: int = 0
    mtime_ns: int = 0

    @property
    def ours(self) -> bool:
        return self.floor is not None

    def next_uid(self) -> int:
        """The next UID to give: past the header's N and every line (appended ones too)."""
        return max(self.header_next, self.last_uid + 1)

    def uid_of(self) -> dict[str, int]:
        return {base: uid for base, (uid, _) in self.records.items()}


_cache: dict[str, Uidlist] = {}


def _parse_header(line: str) -> Uidlist | None:
    parts = line.split()
    try:
        if parts[0] == "1":
            return Uidlist(1, int(parts[1]), int(parts[2]))
        if parts[0] != "3":
            return None
        found = Uidlist(3, 0, 0)
        for item in parts[1:]:
            key, value = item[0], item[1:]
            if key == "V":
                found.uidvalidity = int(value)
            elif key == "N":
                found.header_next = int(value)
            elif key == "G":
                found.guid = value
            elif key == FLOOR_KEY and value.isdigit():
                found.floor = int(value)
            else:
                found.extra.append(item)
    except (IndexError, ValueError):
        return None
    if found.uidvalidity <= 0 or found.header_next <= 0:
        return None
    return found


def _parse_lines(state: Uidlist, text: str) -> None:
    for line in text.splitlines():
        number, _, rest = line.partition(" ")
        if not number.isdigit():
            continue
        uid = int(number)
        if state.version == 1:
            ext, filename = "", rest.split(" ")[-1]
        else:
            head, colon, filename = rest.partition(":")
            ext = head.strip() if colon else ""
            if not colon:
                filename = head
        base = filename.strip().partition(":")[0]
        if not base or "/" in base:
            continue
        state.records[base] = (uid, ext)
        state.last_uid = max(state.last_uid, uid)


def load(folder: str) -> Uidlist | None:
    """The folder's uidlist (None: missing or unreadable), re-read only where it changed.

    A file that only grew since our last read (lines appended, by us or Dovecot) is
    read from where that read ended; a replaced one (rename: a new inode) whole.
    """
    path = os.path.join(folder, UIDLIST_FILE)
    known = _cache.get(path)
    if known is not None:  # one stat, no open, when nothing changed (every APPEND asks)
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and (known.ino, known.size, known.mtime_ns) == (
                st.st_ino, st.st_size, st.st_mtime_ns):
            return known
    try:
        handle = open(path, "rb")
    except OSError:
        _cache.pop(path, None)
        return None
    with handle:
        st = os.fstat(handle.fileno())
        if known is not None and known.ino == st.st_ino and st.st_size > known.size \
                and handle.read(len(known.header)) == known.header:
            handle.seek(known.size)
            tail = handle.read()
            cut = tail.rfind(b"\n") + 1  # a line still being written is read next time
            _parse_lines(known, tail[:cut].decode("utf-8", "replace"))
            known.size += cut
            known.mtime_ns = st.st_mtime_ns if cut == len(tail) else 0
            return known
        handle.seek(0)
        data = handle.read()
    first, _, _ = data.partition(b"\n")
    state = _parse_header(first.decode("utf-8", "replace"))
    if state is None:
        _cache.pop(path, None)
        return None
    cut = data.rfind(b"\n") + 1
    _parse_lines(state, data[len(first) + 1:cut].decode("utf-8", "replace"))
    state.header, state.ino, state.size = first + b"\n", st.st_ino, cut
    state.mtime_ns = st.st_mtime_ns if cut == len(data) else 0
    _cache[path] = state
    return state


def _line(uid: int, ext: str, base: str) -> str:
    return f"{uid} {ext} :{base}\n" if ext else f"{uid} :{base}\n"


def append(folder: str, state: Uidlist, entries: list[tuple[int, str]]) -> None:
    """Add ``(uid, base)`` lines at the end (hold the lock); ``state`` follows.

    Not fdatasynced (Dovecot syncs here): the index, committed right after under
    the same write lock, holds the same UIDs, and a line a crash lost from the
    tail is written back from it (``record.settle``). A sync here cost APPEND
    about half its speed again (bench/bench.py), for no state the index lacks.
    """
    if not entries:
        return
    path = os.path.join(folder, UIDLIST_FILE)
    data = "".join(_line(uid, "", base) for uid, base in entries).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, data)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    for uid, base in entries:
        state.records[base] = (uid, "")
        state.last_uid = max(state.last_uid, uid)
    if st.st_ino == state.ino and st.st_size == state.size + len(data):
        state.size, state.mtime_ns = st.st_size, st.st_mtime_ns
    else:
        _cache.pop(path, None)


def rewrite(folder: str, state: Uidlist, modes: Modes) -> Uidlist:
    """Write ``state`` as a whole new file (``.tmp``, fdatasync, rename); hold the lock."""
    path = os.path.join(folder, UIDLIST_FILE)
    if not state.guid:
        state.guid = os.urandom(16).hex()
    fields = [f"V{state.uidvalidity}", f"N{state.next_uid()}", f"G{state.guid}"]
    fields += [f"{FLOOR_KEY}{state.floor or 0}", *state.extra]
    header = ("3 " + " ".join(fields) + "\n").encode("utf-8")
    ordered = sorted(state.records.items(), key=lambda item: item[1][0])
    body = "".join(_line(uid, ext, base) for base, (uid, ext) in ordered).encode("utf-8")
    tmp = path + ".tmp"
    fd = modes.open(tmp, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(header + body)
        while view:
            view = view[os.write(fd, view):]
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    state.version, state.header_next = 3, state.next_uid()
    _cache.pop(path, None)
    fresh = load(folder)
    return fresh if fresh is not None else state
