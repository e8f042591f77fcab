"""Issue 14: a maildir copied (cp -a, rsync -a, tar) or restored keeps its UIDs.

A used maildir (APPEND, EXPUNGE of some, STORE of keywords, a subfolder, CREATE,
RENAME, COPY) is copied to another path; our server on the copy, with the index
copied too or lost, and Dovecot's imap on the copy, must see the same UIDVALIDITY
and UIDs (and we the same flags, keywords and a HIGHESTMODSEQ that did not go
backwards). Before ``dovecot-uidlist`` was written, every folder of the copy got a
new UIDVALIDITY and renumbered UIDs (1,3,4,6 became 1-4).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from imapsession.storage.maildir import open_maildir
from imapsession.storage.maildir.uidlist import read_dovecot_uidlist
from tests.dovecot_ref import dovecot_available
from tests.imapproc import NOBODY, running_as_root, spawn_dovecot, spawn_ours

MSG = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"
BOXES = ("INBOX", "Work", "Archive")
INDEX = "imapsession.index.sqlite"


@pytest.fixture
def top() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="imapsession-copy-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ok(responses: list[bytes]) -> list[bytes]:
    assert b" OK" in responses[-1], responses
    return responses


def use_maildir(maildir: Path) -> None:
    """APPEND, STORE keywords, EXPUNGE some, CREATE, RENAME, COPY: UIDs with gaps."""
    with spawn_ours(str(maildir), copy=False) as imap:
        flags = ["\\Seen", "", "$Label1 \\Flagged", "", "work", "\\Answered"]
        for flag in flags:
            _ok(imap.command(f"APPEND INBOX ({flag})", [MSG]))
        _ok(imap.command("CREATE Work"))
        _ok(imap.command("CREATE Old"))
        for _ in range(3):
            _ok(imap.command("APPEND Old (\\Seen)", [MSG]))
        _ok(imap.command("RENAME Old Archive"))
        _ok(imap.command("SELECT INBOX"))
        _ok(imap.command("UID STORE 2,5 +FLAGS (\\Deleted)"))
        _ok(imap.command("EXPUNGE"))
        _ok(imap.command("UID STORE 4 +FLAGS (todo $Label1)"))
        _ok(imap.command("UID COPY 1,3 Work"))
        _ok(imap.command("SELECT Archive"))
        _ok(imap.command("UID STORE 2 +FLAGS (\\Deleted)"))
        _ok(imap.command("EXPUNGE"))
        _ok(imap.command("UID STORE 3 +FLAGS (later)"))
        imap.logout()


def seen(imap) -> dict[str, tuple[int, dict[int, frozenset[str]]]]:
    """mailbox -> (UIDVALIDITY, uid -> flags without \\Recent), as one server sees them."""
    found = {}
    for box in BOXES:
        text = b"".join(_ok(imap.command(f"SELECT {box}"))).decode()
        validity = int(re.search(r"\[UIDVALIDITY (\d+)\]", text).group(1))
        flags = {}
        for line in _ok(imap.command("UID FETCH 1:* (FLAGS)"))[:-1]:
            text = line.decode()
            uid, got = re.search(r"UID (\d+)", text), re.search(r"FLAGS \(([^)]*)\)", text)
            if uid and got:
                flags[int(uid.group(1))] = frozenset(got.group(1).split()) - {"\\Recent"}
        found[box] = (validity, flags)
    return found


def ours_see(maildir: Path) -> dict:
    with spawn_ours(str(maildir), copy=False) as imap:
        state = seen(imap)
        imap.logout()
    return state


def highest_modseqs(maildir: Path) -> dict[str, int]:
    store = open_maildir(str(maildir), create=False)
    try:
        return {box: store.open_mailbox(box, readonly=True).sync().highest_modseq
                for box in BOXES}
    finally:
        store.close()


def copy_tree(how: str, src: Path, dst: Path) -> None:
    if how == "cp -a":
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    elif how == "rsync -a":
        if shutil.which("rsync") is None:
            pytest.skip("rsync is not installed (.ci/run installs it)")
        subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True)
    else:
        tar = subprocess.run(["tar", "-C", str(src), "-cf", "-", "."], check=True,
                             capture_output=True).stdout
        dst.mkdir()
        subprocess.run(["tar", "-C", str(dst), "-xf", "-"], input=tar, check=True)


@pytest.fixture
def used(top: Path) -> tuple[Path, dict, dict[str, int]]:
    maildir = top / "orig" / "Maildir"
    maildir.parent.mkdir()
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    use_maildir(maildir)
    before = ours_see(maildir)
    assert sorted(before["INBOX"][1]) == [1, 3, 4, 6]  # gaps: 2 and 5 expunged
    assert before["INBOX"][1][4] == frozenset({"todo", "$Label1"})
    return maildir, before, highest_modseqs(maildir)


@pytest.mark.parametrize("index", ["copied", "lost"])
@pytest.mark.parametrize("how", ["cp -a", "rsync -a", "tar"])
def test_a_copied_maildir_keeps_uidvalidity_uids_flags_and_modseqs(
        used, top: Path, how: str, index: str) -> None:
    maildir, before, modseqs = used
    copy = top / "copy" / "Maildir"
    copy.parent.mkdir()
    copy_tree(how, maildir, copy)
    if index == "lost":
        for suffix in ("", "-wal", "-shm"):
            (copy / (INDEX + suffix)).unlink(missing_ok=True)
    assert ours_see(copy) == before
    after = highest_modseqs(copy)
    for box in BOXES:
        assert after[box] >= modseqs[box], box  # a CONDSTORE client's floor holds


def test_our_uidlist_reads_back_with_our_reader(used) -> None:
    maildir, before, _ = used
    for box, folder in (("INBOX", maildir), ("Work", maildir / ".Work"),
                        ("Archive", maildir / ".Archive")):
        parsed = read_dovecot_uidlist(str(folder))
        assert parsed is not None, box
        validity, uidnext, uids = parsed
        assert validity == before[box][0]
        assert sorted(uids.values()) == sorted(before[box][1])
        assert uidnext > max(uids.values())
        header = (folder / "dovecot-uidlist").read_text().splitlines()[0]
        assert re.fullmatch(r"3 V\d+ N\d+ G[0-9a-f]{32} m\d+", header), header
        assert not (folder / "dovecot-uidlist.lock").exists()


@pytest.mark.dovecot
@pytest.mark.skipif(not dovecot_available(), reason="Dovecot's imap is not installed")
def test_dovecot_on_a_copy_sees_our_uidvalidity_and_uids(used) -> None:
    maildir, before, _ = used
    with spawn_dovecot(str(maildir)) as imap:  # a private copy, as nobody when root
        theirs = seen(imap)
        imap.logout()
    for box in BOXES:
        assert theirs[box][0] == before[box][0], box
        assert sorted(theirs[box][1]) == sorted(before[box][1]), box
        assert theirs[box][1] == before[box][1], box


def _chown(tree: Path, owner: int) -> None:
    for base, dirs, files in os.walk(tree):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(base, name), owner, owner)
    os.chown(tree, owner, owner)


@pytest.mark.dovecot
@pytest.mark.skipif(not dovecot_available(), reason="Dovecot's imap is not installed")
def test_dovecot_and_we_share_one_uid_allocator(top: Path) -> None:
    """Dovecot in place, then us, then Dovecot again: no UID given twice, none renumbered."""
    home = top / "home"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    os.chmod(home, 0o755)

    def dovecot_appends() -> list[int]:
        if running_as_root():
            _chown(home, NOBODY)
        with spawn_dovecot(str(maildir), copy=False) as imap:
            text = b"".join(_ok(imap.command("APPEND INBOX (\\Seen)", [MSG]))).decode()
            imap.logout()
        return [int(u) for u in re.findall(r"APPENDUID \d+ (\d+)", text)]

    def ours_appends() -> list[int]:
        with spawn_ours(str(maildir), copy=False) as imap:
            text = b"".join(_ok(imap.command("APPEND INBOX ()", [MSG]))).decode()
            imap.logout()
        return [int(u) for u in re.findall(r"APPENDUID \d+ (\d+)", text)]

    assert dovecot_appends() == [1]
    assert ours_appends() == [2]
    assert dovecot_appends() == [3]
    assert ours_appends() == [4]
    state = ours_see_inbox(maildir)
    assert sorted(state) == [1, 2, 3, 4]
    if running_as_root():
        _chown(home, NOBODY)
    with spawn_dovecot(str(maildir), copy=False) as imap:
        text = b"".join(_ok(imap.command("UID FETCH 1:* (FLAGS)"))).decode() \
            if b" OK" in _ok(imap.command("SELECT INBOX"))[-1] else ""
        imap.logout()
    assert sorted(int(u) for u in re.findall(r"UID (\d+)", text)) == [1, 2, 3, 4]


def ours_see_inbox(maildir: Path) -> dict[int, frozenset[str]]:
    with spawn_ours(str(maildir), copy=False) as imap:
        _ok(imap.command("SELECT INBOX"))
        text = b"".join(_ok(imap.command("UID FETCH 1:* (FLAGS)"))).decode()
        imap.logout()
    return {int(u): frozenset() for u in re.findall(r"UID (\d+)", text)}


def test_a_stale_index_beside_newer_files_takes_the_uidlist(top: Path) -> None:
    """An index restored from an older backup (or a copy of a live WAL index that missed
    its last commits) beside newer mail: the uidlist's UIDs and modseq floor win."""
    maildir = top / "Maildir"
    store = open_maildir(str(maildir))
    for _ in range(3):
        store.append("INBOX", MSG, frozenset({"\\Seen"}), None)
    store.close()
    old_index = top / "old-index"
    old_index.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if (maildir / (INDEX + suffix)).exists():
            shutil.copy2(maildir / (INDEX + suffix), old_index / (INDEX + suffix))
    store = open_maildir(str(maildir))
    box = store.open_mailbox("INBOX", readonly=False)
    box.sync()
    box.store_flags([2], "add", frozenset({"\\Deleted"}))
    box.expunge()
    for _ in range(2):
        store.append("INBOX", MSG, frozenset({"later"}), None)
    want = store.open_mailbox("INBOX", readonly=True).sync()
    store.close()
    copy = top / "restored"
    subprocess.run(["cp", "-a", str(maildir), str(copy)], check=True)
    for suffix in ("", "-wal", "-shm"):
        (copy / (INDEX + suffix)).unlink(missing_ok=True)
        if (old_index / (INDEX + suffix)).exists():
            shutil.copy2(old_index / (INDEX + suffix), copy / (INDEX + suffix))
    store = open_maildir(str(copy), create=False)
    got = store.open_mailbox("INBOX", readonly=True).sync()
    store.close()
    assert got.uidvalidity == want.uidvalidity
    assert {r.uid: r.flags for r in got.changed} == {r.uid: r.flags for r in want.changed}
    assert sorted(r.uid for r in got.changed) == [1, 3, 4, 5]
    assert got.uidnext == want.uidnext
    assert got.highest_modseq >= want.highest_modseq


@pytest.mark.dovecot
@pytest.mark.skipif(not dovecot_available(), reason="Dovecot's imap is not installed")
def test_dovecot_and_we_appending_at_once_never_share_a_uid(top: Path) -> None:
    """Both servers on one maildir at the same time (as one user): one allocator."""
    import threading

    from tests.imapproc import ours_argv, ours_env, spawn

    home = top / "home"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    os.chmod(home, 0o755)
    argv = ours_argv()
    if running_as_root():  # both as nobody, so each can write what the other made
        _chown(home, NOBODY)
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                *[a for a in argv if a != "--allow-root"]]
    ours = spawn(argv, ours_env(str(home), str(maildir)), cwd=str(home), home=str(home),
                 maildir=str(maildir), cleanup=[])
    theirs = spawn_dovecot(str(maildir), copy=False)
    given: dict[str, list[int]] = {"ours": [], "dovecot": []}

    def appends(name: str, imap) -> None:
        for _ in range(15):
            text = b"".join(_ok(imap.command("APPEND INBOX ()", [MSG]))).decode()
            given[name] += [int(u) for u in re.findall(r"APPENDUID \d+ (\d+)", text)]

    try:
        workers = [threading.Thread(target=appends, args=(n, p))
                   for n, p in (("ours", ours), ("dovecot", theirs))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seen_by = {}
        for name, imap in (("ours", ours), ("dovecot", theirs)):
            _ok(imap.command("SELECT INBOX"))
            text = b"".join(_ok(imap.command("UID FETCH 1:* (UID)"))).decode()
            seen_by[name] = sorted(int(u) for u in re.findall(r"UID (\d+)", text))
    finally:
        ours.logout()
        theirs.logout()
    everything = given["ours"] + given["dovecot"]
    assert len(everything) == 30 and len(set(everything)) == 30, given
    assert seen_by["ours"] == seen_by["dovecot"] == sorted(everything)
