"""The modes of every file and directory we create, decided in one place from the mail root.

Why: with the usual umask 022 our files came out 0644 and a maildir we made
0755, so another local user could copy the index and read cached subjects and
addresses. Dovecot (``mailbox_list_get_permissions`` in lib-storage) ignores the
umask and derives modes from the mailbox directory; we follow the same rule,
taken from the mail root:

- files: ``(root & 0666) | 0600``; directories: ``(root & 0777) | 0700``
  (a 0700 root gives 0600 and 0700, a shared 0770 root 0660 and 0770);
- a root that does not exist yet is created 0700 (the private rule);
- group: left to the kernel when the root is set-gid (new entries inherit it),
  when the group has no more rights than others, or when our effective group
  already is the root's; otherwise each new file and directory is chowned to the
  root's group. Where that chown is refused (we are not in the group) the group
  bits are dropped rather than granted to our own primary group.

The umask is never changed (it is process-wide); instead a mode the umask cut
is restored with one fchmod, which the private rule under umask 022 never needs,
so APPEND's per-message path costs no extra system call. Files that already
exist and that we own are tightened (never loosened) when a store opens them.
"""

from __future__ import annotations

import errno
import logging
import os
import stat

import attrs

log = logging.getLogger("imapsession.storage.modes")

# what create_whole() raises where unnamed files or /proc/self/fd are missing
UNNAMED_UNSUPPORTED = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT)
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_warned: set[int] = set()


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)  # no /proc: set and restore at once (single-threaded here)
    os.umask(mask)
    return mask


@attrs.frozen
class Modes:
    """The rule for one store: ``file`` and ``dir`` modes, ``gid`` to chown to (-1: none)."""

    file: int = PRIVATE_FILE
    dir: int = PRIVATE_DIR
    gid: int = -1
    umask: int = attrs.field(factory=current_umask, eq=False)

    @classmethod
    def private(cls) -> Modes:
        """For our own state (crash reports, stack dumps): owner only, whatever the mail."""
        return cls()

    @classmethod
    def of(cls, root: str) -> Modes:
        """The rule Dovecot applies under the directory ``root`` (private when it is missing)."""
        try:
            st = os.stat(root)
        except FileNotFoundError:
            return cls()
        mode = stat.S_IMODE(st.st_mode)
        gid = st.st_gid
        if (mode & stat.S_ISGID or (mode & 0o070) >> 3 == mode & 0o007
                or gid == os.getegid()):
            gid = -1
        # set-gid is kept on our directories too, so that what they hold inherits the group
        return cls(file=(mode & 0o666) | 0o600, dir=(mode & 0o777) | 0o700 | (mode & stat.S_ISGID),
                   gid=gid)

    # creating ------------------------------------------------------------------------

    def _fix(self, fd: int, mode: int) -> None:
        """Give a new entry its group and the bits the umask cut (nothing in the common case)."""
        if self.gid != -1:
            try:
                os.fchown(fd, -1, self.gid)
            except PermissionError:
                mode &= ~0o070  # not in the mail's group: keep our own group out of it
                if self.gid not in _warned:
                    _warned.add(self.gid)
                    log.warning("cannot give new files group %d: they stay private", self.gid)
                os.fchmod(fd, mode)
                return
        if mode & self.umask:
            os.fchmod(fd, mode)

    def open(self, path: str, flags: int = os.O_WRONLY | os.O_EXCL) -> int:
        """``os.open`` with O_CREAT and the file mode, past the umask.

        Without O_EXCL the file may have existed (a journal, a stack dump): one of
        ours is set to the rule whichever it was.
        """
        fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, self.file)
        try:
            if flags & os.O_EXCL:
                self._fix(fd, self.file)
            else:
                self._settle_fd(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def create_whole(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data``, whole or not at all; False when it exists.

        Written to an unnamed file (``O_TMPFILE``) and linked into place, so that a kill
        never leaves it empty or short (a dot-lock an MDA could not tell is dead).
        Raises ``UNNAMED_UNSUPPORTED`` errors where the file system or /proc cannot.
        """
        fd = os.open(os.path.dirname(path) or ".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC,
                     self.file)
        try:
            self._fix(fd, self.file)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            try:
                # linkat(AT_SYMLINK_FOLLOW): a dir fd makes os.link use it; an absolute
                # source path ignores which one
                os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)
            except FileExistsError:
                return False
        finally:
            os.close(fd)
        return True

    def create_empty(self, path: str) -> bool:
        """Create an empty file if it is missing; True when this call created it."""
        try:
            os.close(self.open(path))
        except FileExistsError:
            return False
        return True

    def replace(self, path: str, data: bytes, *, sync: bool = True, tmp: str | None = None) -> None:
        """Write ``path`` atomically: a new file beside it (``tmp``, by default one named
        after our pid), fsynced, renamed over it."""
        tmp = tmp or f"{path}.{os.getpid()}.tmp"
        fd = self.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)

    def mkdir(self, path: str) -> None:
        """``mkdir -p`` with the directory mode (and group) for every level it creates."""
        try:
            os.mkdir(path, self.dir)
        except FileExistsError:
            return
        except FileNotFoundError:
            parent = os.path.dirname(path.rstrip(os.sep))
            if not parent or parent == path:
                raise
            self.mkdir(parent)
            try:
                os.mkdir(path, self.dir)
            except FileExistsError:
                return
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._fix(fd, self.dir)
        finally:
            os.close(fd)

    # existing entries --------------------------------------------------------------------

    def _settle_fd(self, fd: int) -> None:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            return
        mode = self.file
        if self.gid != -1 and st.st_gid != self.gid:
            try:
                os.fchown(fd, -1, self.gid)
            except PermissionError:
                mode &= ~0o070
        if stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)

    def tighten(self, path: str) -> None:
        """Take away the bits the rule does not give, on an entry we own (missing: nothing).

        Also for files another program created for us (SQLite's -wal and -shm): they
        get the mail's group when the rule names one, or lose their group bits.
        """
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
            return
        allowed = self.dir if stat.S_ISDIR(st.st_mode) else self.file
        if self.gid != -1 and st.st_gid != self.gid:
            try:
                os.chown(path, -1, self.gid, follow_symlinks=False)
            except PermissionError:
                allowed &= ~0o070
        mode = stat.S_IMODE(st.st_mode)
        if mode & ~allowed & 0o777:
            try:
                os.chmod(path, mode & (allowed | ~0o777))
            except OSError as exc:
                log.warning("cannot tighten the mode of %s: %s", path, exc)
