"""What a session may touch once sandboxed: a ``Policy`` built from where its mail is.

Read-write: the mail root (Maildir, or the mbox root with its ``.imap`` index and
journals), the directory holding an mbox INBOX (its dot-lock is created there),
and the state directories (crash reports, stack dumps, rawlogs). Read-only: what
Python may still load later, since imports are lazy (the stdlib and site
directories whole, the imapsession package itself but not the checkout around
it), the shared libraries an extension module may pull in, time zones, locales,
and a few device and /proc files. Everything else is denied, even where plain
permissions would allow it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

import attrs

from imapsession.sandbox import landlock as ll

READ_ONLY = ll.EXECUTE | ll.READ_FILE | ll.READ_DIR
READ_WRITE = (ll.READ_FILE | ll.READ_DIR | ll.WRITE_FILE | ll.REMOVE_DIR | ll.REMOVE_FILE
              | ll.MAKE_DIR | ll.MAKE_REG | ll.REFER | ll.TRUNCATE)
# Maildir delivery, MOVE and hard-link COPY rename or link across directories (REFER);
# mbox rolls a failed append back with ftruncate (TRUNCATE)
MIN_ABI = {"maildir": 2, "mbox": 3}

_SYSTEM_READ = ("/etc/localtime", "/etc/ld.so.cache", "/usr/lib/locale", "/usr/share/locale",
                "/dev/urandom", "/dev/random", "/proc/self")
_SYSTEM_WRITE = ("/dev/null", "/dev/log")
_TZPATH = "/usr/share/zoneinfo:/usr/lib/zoneinfo:/usr/share/lib/zoneinfo:/etc/zoneinfo"
_LIB_DIRS = ("/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


@attrs.frozen
class Policy:
    """Paths allowed beneath, by kind; the Landlock ABI the mail format needs."""

    read_write: tuple[str, ...]
    read_only: tuple[str, ...]
    min_abi: int
    mail_format: str

    def rules(self) -> list[tuple[str, int]]:
        return ([(path, READ_WRITE) for path in self.read_write]
                + [(path, READ_ONLY) for path in self.read_only])


def for_session(mail_format: str, root: str, inbox: str | None, state_dirs: Iterable[str],
                extra_read: Iterable[str] = ()) -> Policy:
    """The policy for one user's session; creates the mail root and state dirs if missing.

    They must exist for a rule to name them; a directory that cannot be made is
    left out (the store's own open then reports why).
    """
    write = [_made(root)]
    if mail_format == "mbox":
        write.append(os.path.dirname(os.path.abspath(inbox or os.path.join(root, "inbox"))))
    write += [_made(path) for path in state_dirs]
    write = [path for path in write if path]
    return Policy(read_write=_unique(write + list(_SYSTEM_WRITE)),
                  read_only=_unique([*python_paths(write), *library_paths(), *tz_paths(),
                                     *_SYSTEM_READ, *extra_read]),
                  min_abi=MIN_ABI[mail_format], mail_format=mail_format)


def _made(path: str) -> str | None:
    path = os.path.abspath(path)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path


def _unique(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(paths))


_INSTALL_DIRS = ("site-packages", "dist-packages")


def python_paths(private: Iterable[str]) -> list[str]:
    """Directories imports may still read: sys.path entries, the package, lib-dynload.

    An entry that holds the imapsession package is a source checkout: only the
    package is allowed, not the tests and tools beside it (an installed package's
    site-packages or dist-packages holds only code, its neighbours' too: it stays
    open, or those neighbours could not be imported later). An entry that is /,
    the working directory (``python -m`` puts it first) or a parent of a private
    directory (the home holding the mail) is left out: it would open everything.
    """
    import imapsession

    try:
        cwd = os.getcwd()
    except OSError:  # removed meanwhile: a relative entry then names nothing
        cwd = "/"
    package = [os.path.normpath(os.path.join(cwd, path)) for path in imapsession.__path__]
    closed = {os.path.dirname(path) for path in package
              if os.path.basename(os.path.dirname(path)) not in _INSTALL_DIRS} | {"/", cwd}
    private = [os.path.abspath(path) for path in private]
    paths = list(package)
    for entry in sys.path:
        entry = os.path.normpath(os.path.join(cwd, entry))
        if entry in closed or any(_beneath(path, entry) for path in private):
            continue
        paths.append(entry)
    return paths


def _beneath(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def library_paths() -> list[str]:
    """Where the dynamic loader finds the libraries a lazily imported extension needs."""
    arch = getattr(sys.implementation, "_multiarch", "")  # sysconfig's MULTIARCH, cheaper
    paths = list(_LIB_DIRS)
    if arch:
        paths += [f"/lib/{arch}", f"/usr/lib/{arch}"]
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                name = line.rstrip("\n").split(None, 5)[5:]
                if name and name[0].startswith("/") and ".so" in name[0]:
                    paths.append(os.path.dirname(name[0]))
    except OSError:
        pass
    return paths


def tz_paths() -> list[str]:
    """zoneinfo's search path: PYTHONTZPATH, else CPython's usual compiled-in TZPATH.

    Not sysconfig's TZPATH: importing sysconfig costs every spawn a millisecond.
    The tzdata package is in site-packages, allowed above.
    """
    text = os.environ.get("PYTHONTZPATH") or _TZPATH
    return [path for path in text.split(os.pathsep) if path]
