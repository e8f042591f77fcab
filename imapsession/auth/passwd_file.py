"""Dovecot's passwd-file: ``user:{SCHEME}hash:uid:gid:gecos:home:shell:extra``.

The file is streamed, and only the asked-for user's line is kept (plus one hash per
scheme, for the dummy verification an unknown user costs), so the mail session
that later runs as that user holds nobody else's hash.
"""

from __future__ import annotations

from collections import Counter

import attrs

from imapsession.auth.verify import scheme_of


class PasswdFileError(ValueError):
    """A line of the passwd-file we cannot use."""


@attrs.frozen(repr=False)
class PasswdEntry:
    user: str
    password: str = attrs.field(repr=False)  # "{SCHEME}hash"
    uid: int
    gid: int
    home: str

    def __repr__(self) -> str:  # never print the hash
        return f"PasswdEntry(user={self.user!r}, uid={self.uid}, gid={self.gid}, home={self.home!r})"


@attrs.frozen(repr=False)
class Lookup:
    """The user's entry (or None) and a hash of the file's commonest scheme."""

    entry: PasswdEntry | None
    dummy: str | None = attrs.field(repr=False)


def parse_line(line: str) -> PasswdEntry | None:
    """One line, or None for a blank or comment line."""
    line = line.rstrip("\r\n")
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    fields = line.split(":")
    if len(fields) < 6:
        raise PasswdFileError("expected user:password:uid:gid:gecos:home")
    user, password, uid, gid, _gecos, home = fields[:6]
    try:
        return PasswdEntry(user, password, int(uid), int(gid), home)
    except ValueError:
        raise PasswdFileError(f"bad uid or gid for {user!r}") from None


def lookup(path: str, user: str) -> Lookup:
    """Find ``user`` in the file at ``path`` (the first matching line wins)."""
    found: PasswdEntry | None = None
    first_of_scheme: dict[str, str] = {}
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            try:
                entry = parse_line(line)
            except PasswdFileError as exc:
                raise PasswdFileError(f"{path}:{number}: {exc}") from None
            if entry is None:
                continue
            scheme = scheme_of(entry.password)
            counts[scheme] += 1
            first_of_scheme.setdefault(scheme, entry.password)
            if found is None and entry.user == user:
                found = entry
    dummy = first_of_scheme[counts.most_common(1)[0][0]] if counts else None
    return Lookup(found, dummy)
