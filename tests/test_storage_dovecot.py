"""Interchange with Dovecot 2.3: its maildir opens with its UIDs, and it reads our flags."""

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

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
NOBODY = 65534
MSG = b"Subject: dovecot interop\r\n\r\nhello body\r\n"

pytestmark = pytest.mark.dovecot


@pytest.fixture
def home() -> Iterator[Path]:
    """A home that ``nobody`` can traverse (pytest's tmp_path under /tmp is mode 700)."""
    path = Path(tempfile.mkdtemp(prefix="imapsession-dovecot-"))
    os.chmod(path, 0o755)
    (path / "Maildir").mkdir()
    for sub in ("cur", "new", "tmp"):
        (path / "Maildir" / sub).mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_dovecot(home: Path, script: bytes) -> str:
    """Run Dovecot's imap on ``home/Maildir`` as an unprivileged user; return its output."""
    argv = [DOVECOT_IMAP, "-o", f"mail_location=maildir:{home}/Maildir"]
    env = {"HOME": str(home), "USER": os.environ.get("USER", "user"), "PATH": "/usr/bin:/bin"}
    if os.geteuid() == 0:
        for base, dirs, names in os.walk(home):
            for name in [*dirs, *names, "."]:
                os.chown(os.path.join(base, name), NOBODY, NOBODY)
        env["USER"] = "nobody"
        argv = [
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv,
        ]
    done = subprocess.run(argv, input=script, capture_output=True, timeout=60, check=False)
    out = done.stdout.decode("utf-8", "replace")
    assert "* PREAUTH" in out, done.stderr.decode("utf-8", "replace")
    return out


def append_cmd(tag: str, mailbox: str, flags: str, data: bytes) -> bytes:
    return b"%s APPEND %s (%s) {%d+}\r\n%s\r\n" % (
        tag.encode(), mailbox.encode(), flags.encode(), len(data), data
    )


def fetched_flags(output: str) -> dict[int, frozenset[str]]:
    found = {}
    for uid, flags in re.findall(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)", output):
        found[int(uid)] = frozenset(flags.split()) - {"\\Recent"}
    return found


def test_dovecot_maildir_opens_with_dovecot_uids_and_keywords(home: Path) -> None:
    script = b"".join(
        [
            b"a CREATE Work\r\n",
            b"b SUBSCRIBE Work\r\n",
            append_cmd("c1", "INBOX", "\\Seen $Label1", MSG),
            append_cmd("c2", "INBOX", "", MSG),
            append_cmd("c3", "INBOX", "work", MSG),
            append_cmd("c4", "Work", "urgent \\Flagged", MSG),
            b"d SELECT INBOX\r\n",
            b"e STORE 2 +FLAGS (\\Answered later)\r\n",
            b"f STORE 3 +FLAGS (\\Deleted)\r\n",
            b"z LOGOUT\r\n",
        ]
    )
    run_dovecot(home, script)
    run_dovecot(home, b"d SELECT INBOX\r\ng EXPUNGE\r\nz LOGOUT\r\n")
    # A second session: Dovecot answers pipelined commands out of order within one.
    out = run_dovecot(
        home,
        b"d SELECT INBOX\r\nh UID FETCH 1:* (UID FLAGS)\r\n"
        b"i STATUS Work (UIDVALIDITY UIDNEXT)\r\nz LOGOUT\r\n",
    )
    uidvalidity = int(re.search(r"\[UIDVALIDITY (\d+)\]", out).group(1))
    uidnext = int(re.search(r"\[UIDNEXT (\d+)\]", out).group(1))
    expected = fetched_flags(out)
    assert sorted(expected) == [1, 2]  # UID 3 expunged: a gap our import must keep
    work_status = re.search(r"\* STATUS Work \(([^)]*)\)", out).group(1).split()
    work = dict(zip(work_status[::2], map(int, work_status[1::2]), strict=True))
    uidlist = (home / "Maildir" / "dovecot-uidlist").read_text()
    assert uidlist.startswith("3 V")

    store = open_maildir(str(home / "Maildir"))
    state = store.open_mailbox("INBOX", readonly=False).sync()
    assert state.uidvalidity == uidvalidity
    assert {r.uid: r.flags for r in state.changed} == expected
    assert state.recent == frozenset()  # Dovecot's messages were already seen as recent
    assert state.uidnext >= 4
    assert store.append("INBOX", MSG, frozenset(), None).uid >= max(uidnext, 4)
    status = store.status("Work")
    assert (status.uidvalidity, status.uidnext) == (work["UIDVALIDITY"], work["UIDNEXT"])
    box = store.open_mailbox("Work", readonly=True)
    assert [r.flags for r in box.sync().changed] == [frozenset({"urgent", "\\Flagged"})]
    assert "Work" in store.subscriptions()
    store.close()


def test_dovecot_reads_our_flags_and_keywords(home: Path) -> None:
    store = open_maildir(str(home / "Maildir"))
    store.append("INBOX", MSG, frozenset({"\\Seen", "alpha"}), None)
    store.append("INBOX", MSG, frozenset({"\\Flagged", "\\Draft", "beta", "alpha"}), None)
    store.append("INBOX", MSG, frozenset(), None)
    box = store.open_mailbox("INBOX", readonly=False)
    ours = {r.uid: r.flags for r in box.sync().changed}
    box.store_flags([3], "add", frozenset({"\\Answered", "gamma"}))
    ours[3] = frozenset({"\\Answered", "gamma"})
    store.create_mailbox("Sub.dir/Kid")
    store.subscribe("INBOX")
    store.close()
    out = run_dovecot(home, b"a SELECT INBOX\r\nb FETCH 1:* (UID FLAGS)\r\nc LSUB \"\" *\r\nz LOGOUT\r\n")
    theirs = fetched_flags(out)
    # Dovecot numbers by its own uidlist, in file order; compare the flag sets.
    assert sorted(map(sorted, theirs.values())) == sorted(map(sorted, ours.values()))
    assert re.search(r"\* LSUB \([^)]*\) \".\" INBOX", out)


def test_lost_index_beside_dovecot_uidlist_keeps_uids(home: Path) -> None:
    out = run_dovecot(home, append_cmd("a", "INBOX", "\\Seen", MSG) + b"b SELECT INBOX\r\nz LOGOUT\r\n")
    dovecot_validity = int(re.search(r"\[UIDVALIDITY (\d+)\]", out).group(1))
    store = open_maildir(str(home / "Maildir"))
    assert store.open_mailbox("INBOX", readonly=True).sync().uidvalidity == dovecot_validity
    store.append("INBOX", MSG, frozenset(), None)  # UID 2 is ours, unknown to dovecot-uidlist
    store.close()
    os.unlink(home / "Maildir" / "imapsession.index.sqlite")
    store = open_maildir(str(home / "Maildir"))
    state = store.open_mailbox("INBOX", readonly=True).sync()
    # our UID 2 went into dovecot-uidlist too: the rebuilt index keeps both
    assert state.uidvalidity == dovecot_validity
    assert [r.uid for r in state.changed] == [1, 2]
    store.close()
