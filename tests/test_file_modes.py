"""Who can read what we write: every file and directory follows the mail root's mode.

Issue 14: under umask 022 the index (cached ENVELOPEs), its WAL, the marker,
subscriptions and keywords came out 0644 and a maildir we made 0755, so another
local user read subjects and addresses. The rule (``storage/modes.py``, as
Dovecot's ``mailbox_list_get_permissions``): files ``(root & 0666) | 0600``,
directories ``(root & 0777) | 0700``, the root's group kept, whatever the umask.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imapproc import NOBODY, ours_argv, ours_env, spawn, status_of
from imapsession.observe import faults
from imapsession.storage import spool
from imapsession.storage.maildir import open_maildir
from imapsession.storage.mbox import open_mbox
from imapsession.storage.modes import Modes

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="a second uid (nobody) and chown need root")
BIG = b"Subject: big\r\nFrom: Alice <alice@example.org>\r\n\r\n" + b"x" * 100_000 + b"\r\n"
SMALL = (b"Subject: secret plans\r\nFrom: Alice <alice@example.org>\r\n"
         b"To: Bob <bob@example.org>\r\n\r\nhello\r\n")


@pytest.fixture
def top() -> Iterator[Path]:
    """A directory others can traverse (pytest's tmp_path is root's 0700): the home's parent."""
    path = Path(tempfile.mkdtemp(prefix="imapsession-modes-"))
    path.chmod(0o755)
    (path / "home").mkdir()
    (path / "home").chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _mail_env(home: Path, backend: str) -> dict[str, str]:
    if backend == "mbox":
        mail = f"mbox:{home}/mail:INBOX={home}/mail/inbox"
    else:
        mail = f"maildir:{home}/Maildir"
    return ours_env(str(home), str(home / "Maildir"), MAIL=mail,
                    **{faults.ENVIRONMENT: "CHECK:raise"})


def _spawn(home: Path, backend: str, umask: int = 0o022):
    old = os.umask(umask)  # inherited by the child; restored at once for the test process
    try:
        return spawn(ours_argv(), _mail_env(home, backend), cwd=str(home), home=str(home))
    finally:
        os.umask(old)


def _busy_session(proc) -> None:
    """Every command that creates a file: the index caches ENVELOPEs, APPENDs spool."""
    ok = [
        proc.command("CREATE Other"),
        proc.command("SUBSCRIBE Other"),
        proc.command("APPEND INBOX (\\Seen $Plans)", [SMALL]),
        proc.command("APPEND INBOX", [BIG]),  # over 64 KiB: spooled to a file first
        proc.command("SELECT INBOX"),
        proc.command("FETCH 1:* (ENVELOPE)"),
        proc.command("STORE 1 +FLAGS (Project)"),
        proc.command("COPY 1:* Other"),
        proc.command("STATUS Other (MESSAGES)"),
    ]
    for responses in ok:
        assert status_of(responses) == b"OK", responses
    assert b"SERVERBUG" in proc.command("CHECK")[-1]  # a crash report in the state dir


def _entries(home: Path) -> list[Path]:
    """Everything under the home the server made (the home itself is the test's)."""
    out = []
    for base, dirs, files in os.walk(home):
        out += [Path(base, name) for name in dirs + files]
    return out


_PROBE = """
import json, os, sys
readable = []
for path in json.load(sys.stdin):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
        readable.append(path)
    except OSError:
        pass
print(json.dumps(readable))
"""


def _readable_by_nobody(paths: list[Path]) -> list[str]:
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            sys.executable, "-c", _PROBE]
    done = subprocess.run(argv, input=json.dumps([str(p) for p in paths]).encode(),
                          capture_output=True, timeout=60, check=True)
    return json.loads(done.stdout)


def _loose(paths: list[Path]) -> list[str]:
    return [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in paths
            if p.exists() and stat.S_IMODE(p.lstat().st_mode) & 0o077]


@needs_root
@pytest.mark.parametrize("backend", ["maildir", "mbox"])
def test_another_user_reads_nothing_the_server_created_under_umask_022(top, backend):
    home = top / "home"
    with _spawn(home, backend) as proc:
        _busy_session(proc)
        during = _entries(home)  # the WAL and -shm exist while the session is open
        names = {p.name for p in during}
        assert "imapsession.index.sqlite-wal" in names and any(
            n.startswith("crash-") for n in names), sorted(names)
        assert _loose(during) == []
        assert _readable_by_nobody(during) == []
        proc.logout()
    after = _entries(home)
    assert _loose(after) == []
    assert _readable_by_nobody(after) == []
    root = home / ("mail" if backend == "mbox" else "Maildir")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700  # a root we create is 0700


@needs_root
@pytest.mark.parametrize("setgid", [False, True], ids=["plain", "setgid"])
def test_a_shared_0770_maildir_gets_0660_files_in_its_group(top, setgid):
    home, group = top / "home", 4242
    root = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for path in (root, root / "cur", root / "new", root / "tmp"):
        os.chown(path, 0, group)
        path.chmod(0o2770 if setgid else 0o770)
    before = set(_entries(home))
    with _spawn(home, "maildir") as proc:
        _busy_session(proc)
        made = [p for p in _entries(home) if p not in before and root in p.parents]
        assert any(p.name.endswith("-wal") for p in made)
        wrong = []
        for path in made:
            st = path.lstat()
            want = 0o770 if stat.S_ISDIR(st.st_mode) else 0o660
            if stat.S_IMODE(st.st_mode) & 0o777 != want or st.st_gid != group:
                wrong.append(f"{oct(stat.S_IMODE(st.st_mode))} gid={st.st_gid} {path}")
        assert wrong == []
        proc.logout()
    if setgid:  # new folders keep handing the group down
        assert (root / ".Other").stat().st_mode & stat.S_ISGID


def test_the_rule_is_dovecots():
    with tempfile.TemporaryDirectory() as where:
        for mode, file_mode, dir_mode in [(0o700, 0o600, 0o700), (0o750, 0o640, 0o750),
                                          (0o770, 0o660, 0o770), (0o755, 0o644, 0o755),
                                          (0o500, 0o600, 0o700)]:
            os.chmod(where, mode)
            modes = Modes.of(where)
            assert (modes.file, modes.dir) == (file_mode, dir_mode), oct(mode)
        assert Modes.of(os.path.join(where, "missing")) == Modes.private()
        os.chmod(where, 0o700)


def test_existing_0644_files_are_tightened_on_open(top):
    home = top / "home"
    with _spawn(home, "maildir") as proc:
        _busy_session(proc)
        proc.logout()
    root = home / "Maildir"
    state = home / ".local" / "state" / "imapsession"
    ours = [root / "imapsession.index.sqlite", root / "imapsession.uidvalidity",
            root / "subscriptions", root / "dovecot-keywords", root / ".Other" / "maildirfolder",
            root / ".Other" / "dovecot-keywords"]
    dirs = [root / "cur", root / "tmp", root / ".Other", root / ".Other" / "cur", state,
            state / "crash"]
    for path in ours:
        assert path.exists(), path
        path.chmod(0o644)
    for path in dirs:
        path.chmod(0o755)
    with _spawn(home, "maildir") as proc:
        for command in ("SELECT INBOX", "SELECT Other", "LSUB \"\" *"):
            assert status_of(proc.command(command)) == b"OK"
        proc.logout()
    assert _loose(ours + dirs) == []


def test_mbox_state_files_are_tightened_on_open(top):
    home = top / "home"
    with _spawn(home, "mbox") as proc:
        _busy_session(proc)
        proc.logout()
    root = home / "mail"
    ours = [root / ".imap" / "imapsession.index.sqlite", root / ".subscriptions",
            root / ".imap", root / ".imap" / "imapsession-tmp"]
    for path in ours:
        path.chmod(0o755 if path.is_dir() else 0o644)
    with _spawn(home, "mbox") as proc:
        assert status_of(proc.command("SELECT INBOX")) == b"OK"
        proc.logout()
    assert _loose(ours) == []


# --- spools a killed session left -------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _plant(tmp_dir: Path, age_s: float = 0.0) -> dict[str, Path]:
    """One spool of each kind: ours with a dead writer, ours alive, foreign fresh, foreign old."""
    host = spool._hostname()
    now = int(time.time())
    files = {
        "dead": tmp_dir / f"{now}.M1P{_dead_pid()}Q1.{host}",
        "alive": tmp_dir / f"{now}.M2P{os.getppid()}Q1.{host}",
        "other-host": tmp_dir / f"{now}.M3P{_dead_pid()}Q1.elsewhere",
        "foreign": tmp_dir / f"{now}.M4P{_dead_pid()}.{host}",
        "foreign-old": tmp_dir / f"{now}.M5P1.mda",
    }
    for path in files.values():
        path.write_bytes(b"Subject: half written\r\n")
    old = time.time() - spool.TMP_MAX_AGE_S - 60
    os.utime(files["foreign-old"], (old, old))
    return files


def test_maildir_tmp_spools_of_dead_sessions_go_when_the_folder_opens(tmp_path):
    store = open_maildir(str(tmp_path / "Maildir"))
    store.create_mailbox("Other")
    files = _plant(tmp_path / "Maildir" / ".Other" / "tmp")
    store.open_mailbox("Other", readonly=False)
    left = {kind for kind, path in files.items() if path.exists()}
    assert left == {"alive", "other-host", "foreign"}
    store.close()


def test_mbox_spools_of_dead_sessions_go_when_the_store_opens(tmp_path):
    root = tmp_path / "mail"
    tmp_dir = root / ".imap" / "imapsession-tmp"
    tmp_dir.mkdir(parents=True)
    files = _plant(tmp_dir)
    store = open_mbox(str(root), str(root / "inbox"))
    store.status("INBOX")
    left = {kind for kind, path in files.items() if path.exists()}
    assert left == {"alive", "other-host", "foreign"}
    store.close()


def test_a_killed_sessions_spool_is_removed_by_the_next_session(top):
    """End to end: kill -9 in the middle of a big literal, then open the folder again."""
    home = top / "home"
    tmp_dir = home / "Maildir" / "tmp"
    with _spawn(home, "maildir") as proc:
        proc.send_raw(b"a APPEND INBOX {%d}\r\n" % len(BIG))
        proc.read_response()  # "+ go ahead"
        proc.send_raw(BIG[:70_000])
        deadline = time.monotonic() + 10
        while not any(tmp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(tmp_dir.iterdir())
        proc.popen.kill()
        proc.popen.wait()
        proc.close()
    with _spawn(home, "maildir") as proc:
        assert status_of(proc.command("SELECT INBOX")) == b"OK"
        assert list(tmp_dir.iterdir()) == []
        proc.logout()
