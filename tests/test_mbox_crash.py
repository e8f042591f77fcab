"""SIGKILL during EXPUNGE, STORE and APPEND on an mbox: nothing lost, nothing doubled.

A fault point (``IMAPSESSION_MBOX_FAULT=name[:n]``, read by ``storage.mbox.journal.fault``)
kills the server with SIGKILL at the n-th pass through a named place of a write;
other runs kill it from outside at random moments. Afterwards the file must parse,
the journal must be gone once the mailbox is opened again, and every message must
be there exactly once: the old content or the new, never a mix.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from mbox_helpers import deliver, spawn_ours_mbox

from imapproc import ImapEOF
from imapsession.storage.mbox import format as mbox_format

COUNT = 6
DELETED = {2, 4}  # sequence numbers (= UIDs here) flagged \Deleted in the base mailbox


def _message(i: int) -> bytes:
    return (f"Subject: message {i}\r\nMessage-ID: <m{i}@test>\r\n\r\nbody {i}\r\n"
            f"From line inside body {i}\r\n").encode()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("mbox-crash-base")
    (home / "mail").mkdir()
    with spawn_ours_mbox(home) as ours:
        for i in range(1, COUNT + 1):
            assert b"OK" in ours.command("APPEND INBOX", [_message(i)])[-1]
        ours.command("SELECT INBOX")
        ours.command("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        ours.logout()
    return home


def _copy(base: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(base, home)
    return home


def _ids(home: Path) -> list[str]:
    """Message-IDs in the mailbox as a fresh session sees them (recovering first)."""
    with spawn_ours_mbox(home) as ours:
        ours.command("SELECT INBOX")
        answer = b"".join(ours.command("FETCH 1:* BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"))
        ours.logout()
    return re.findall(r"<(m\d+|new\d+)@test>", answer.decode())


def _check_file(home: Path) -> None:
    data = (home / "mail" / "inbox").read_bytes()
    spans = mbox_format.parse(data)
    assert all(data[s.from_off:s.from_off + 5] == b"From " for s in spans)
    journals = [n for n in os.listdir(home / "mail" / ".imap") if n.startswith("journal-")]
    assert journals == []


OLD = [f"m{i}" for i in range(1, COUNT + 1)]
NEW = [f"m{i}" for i in range(1, COUNT + 1) if i not in DELETED]


@pytest.mark.parametrize("fault,expected", [
    ("journal-copy:1", OLD),
    # one pass per message rewritten: those kept from the first deleted one on
    *[(f"rewrite-write:{n}", OLD) for n in range(1, len(
        [i for i in range(min(DELETED), COUNT + 1) if i not in DELETED]) + 1)],
    ("before-commit:1", OLD),
    ("after-commit:1", NEW),
    ("before-finish:1", NEW),
])
def test_expunge_killed_at_a_fault_point(base, tmp_path, fault, expected):
    home = _copy(base, tmp_path)
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": fault}) as ours:
        ours.command("SELECT INBOX")
        with pytest.raises(ImapEOF):
            ours.command("EXPUNGE")
        assert ours.wait() == -signal.SIGKILL
    journals = [n for n in os.listdir(home / "mail" / ".imap") if n.startswith("journal-")]
    assert journals, "the kill came before the journal existed: the fault point is not reached"
    assert _ids(home) == expected
    _check_file(home)


@pytest.mark.parametrize("fault", [
    "rewrite-write:1", "rewrite-write:3",
    "after-commit:1",  # the first rewrite only declares the keywords in X-IMAPbase
    "after-commit:2",  # the second one gives message 1 its flags
])
def test_store_that_does_not_fit_killed_midway(base, tmp_path, fault):
    home = _copy(base, tmp_path)
    words = " ".join(f"keyword-{n}-that-takes-room" for n in range(5))
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": fault}) as ours:
        ours.command("SELECT INBOX")
        with pytest.raises(ImapEOF):
            ours.command(f"STORE 1 +FLAGS ({words})")
    assert _ids(home) == OLD
    _check_file(home)
    with spawn_ours_mbox(home) as ours:
        ours.command("SELECT INBOX")
        flags = b"".join(ours.command("FETCH 1 FLAGS"))
        ours.logout()
    assert (b"keyword-0-that-takes-room" in flags) == (fault == "after-commit:2")


def test_append_killed_after_writing_keeps_the_message_once(base, tmp_path):
    home = _copy(base, tmp_path)
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": "append-written"}) as ours:
        with pytest.raises(ImapEOF):
            ours.command("APPEND INBOX", [_message(1).replace(b"<m1@", b"<new1@")])
    assert _ids(home) == OLD + ["new1"]
    _check_file(home)


ROUNDS = 24
FILLER = b"x" * 76 + b"\r\n"


def _script() -> bytes:
    """APPENDs of 150 kB messages with STOREs and, every fourth, an EXPUNGE that rewrites."""
    script = [b"s SELECT INBOX\r\n"]
    for n in range(1, ROUNDS + 1):
        msg = _message(n).replace(f"<m{n}@".encode(), f"<new{n}@".encode()) + FILLER * 2000
        script.append(b"a%d APPEND INBOX {%d+}\r\n%s\r\n" % (n, len(msg), msg))
        script.append(b"f%d STORE %d +FLAGS (\\Seen kw%d)\r\n" % (n, n, n))
        if n % 4 == 0:
            script.append(b"d%d STORE 1 +FLAGS (\\Deleted)\r\ne%d EXPUNGE\r\n" % (n, n))
    return b"".join(script + [b"z LOGOUT\r\n"])


def _send_quietly(ours, data: bytes) -> None:
    try:
        ours.send_raw(data)
    except (BrokenPipeError, ValueError):
        pass


@pytest.fixture(scope="module")
def script_seconds(base, tmp_path_factory) -> float:
    """How long the whole script takes here, so the kills spread over all of it."""
    home = _copy(base, tmp_path_factory.mktemp("mbox-crash-timing"))
    ours = spawn_ours_mbox(home, timeout=60)
    started = time.monotonic()
    ours.send_raw(_script())
    ours.read_until_tagged("z", timeout=60)
    elapsed = time.monotonic() - started
    ours.close()
    return elapsed


@pytest.mark.parametrize("seed", range(16))
def test_killed_at_a_random_moment(base, tmp_path, script_seconds, seed):
    """APPENDs, STOREs and EXPUNGEs pipelined; SIGKILL lands wherever it lands."""
    rng = random.Random(seed)
    home = _copy(base, tmp_path)
    ours = spawn_ours_mbox(home)
    writer = threading.Thread(target=_send_quietly, args=(ours, _script()))
    writer.start()  # the pipe holds 64 kB: the server reads the script as it works
    time.sleep(rng.uniform(0.0, script_seconds))
    ours.popen.send_signal(signal.SIGKILL)
    writer.join()
    answered = ours.pending(1.0).decode("ascii", "replace")
    ours.close()
    acknowledged = [int(n) for n in re.findall(r"^a(\d+) OK", answered, re.M)]
    ids = _ids(home)
    _check_file(home)
    assert len(set(ids)) == len(ids), ids
    # an EXPUNGE removes the first message (and, the first time, m2 and m4, flagged in
    # the base): the old ones are all there or a tail of those left after it
    olds = [i for i in ids if i.startswith("m")]
    assert olds == OLD or olds == NEW[len(NEW) - len(olds):], ids
    # appended ones are lost only from the front, by those EXPUNGEs, and every APPEND
    # that was answered OK is there unless it went that way
    news = [int(i[3:]) for i in ids if i.startswith("new")]
    assert ids == olds + [f"new{n}" for n in news], ids
    if news:
        assert news == list(range(news[0], news[-1] + 1)), ids
        assert news[-1] >= max(acknowledged, default=0), (ids, acknowledged)
    else:
        assert not acknowledged or olds == [], (ids, acknowledged)


# --- a kill inside a large APPEND: the whole message or none of it (issue 14) -------------

BIG = _message(1).replace(b"<m1@", b"<new1@") + FILLER * 40_000  # 3.2 MB: several writes


def _mda_message(n: int) -> bytes:
    return f"Subject: delivered {n}\nMessage-ID: <mda{n}@test>\n\nbody\n".encode()


def _ids_and_mda(home: Path) -> list[str]:
    with spawn_ours_mbox(home) as ours:
        ours.command("SELECT INBOX")
        answer = b"".join(ours.command("FETCH 1:* BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"))
        ours.logout()
    return re.findall(r"<(m\d+|new\d+|mda\d+)@test>", answer.decode())


def _kill_append(home: Path, fault: str, message: bytes = BIG, flags: str = "") -> None:
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": fault}) as ours:
        with pytest.raises(ImapEOF):
            ours.command(f"APPEND INBOX {flags}".rstrip(), [message])
        assert ours.wait() == -signal.SIGKILL


@pytest.mark.parametrize("mda", [False, True], ids=["alone", "then-an-mda-delivers"])
def test_append_killed_inside_the_write_leaves_no_fragment(base, tmp_path, mda):
    home = _copy(base, tmp_path)
    inbox = home / "mail" / "inbox"
    before = inbox.read_bytes()
    _kill_append(home, "append-chunk:2")  # after the first MB of 3.2
    if mda:  # it finds our dot-lock stale (the pid is gone) and appends after our bytes
        (home / "mail" / "inbox.lock").unlink()
        deliver(inbox, _mda_message(1))
    assert _ids_and_mda(home) == OLD + (["mda1"] if mda else [])
    data = inbox.read_bytes()
    assert data.startswith(before) and b"\0" not in data
    assert b"new1@test" not in data
    _check_file(home)


def test_a_delivery_before_our_extension_is_kept(base, tmp_path):
    """Killed after the record, before the file grew: what lies after the old end is an MDA's."""
    home = _copy(base, tmp_path)
    _kill_append(home, "append-recorded")
    (home / "mail" / "inbox.lock").unlink()
    deliver(home / "mail" / "inbox", _mda_message(1) + FILLER * 50_000)  # longer than ours
    assert _ids_and_mda(home) == OLD + ["mda1"]
    _check_file(home)


# --- keywords new to the mailbox: each message's flags all old or all new (issue 14) -------


def _flags(home: Path, reparse: bool = False) -> dict[int, set[str]]:
    """UID -> flags as a fresh session sees them; ``reparse`` forces a parse of the whole file."""
    if reparse:
        inbox = home / "mail" / "inbox"
        st = inbox.stat()
        os.utime(inbox, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with spawn_ours_mbox(home) as ours:
        ours.command("SELECT INBOX")
        answer = b"".join(ours.command("UID FETCH 1:* FLAGS")).decode()
        ours.logout()
    return {int(uid): set(flags.split()) - {"\\Recent"}
            for uid, flags in re.findall(r"UID (\d+) FLAGS \(([^)]*)\)", answer)}


@pytest.mark.parametrize("fault,outcome", [
    ("store-declared", "old"),   # X-IMAPbase has the keyword, no message yet
    ("store-written", "new"),    # every block written, nothing fsynced or committed
])
def test_store_with_a_new_keyword_killed(base, tmp_path, fault, outcome):
    home = _copy(base, tmp_path)
    old = _flags(home)
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": fault}) as ours:
        ours.command("SELECT INBOX")
        with pytest.raises(ImapEOF):
            ours.command("UID STORE 2:3 +FLAGS (\\Flagged BrandNewKw)")
    new = {**old, **{u: old[u] | {"\\Flagged", "BrandNewKw"} for u in (2, 3)}}
    expected = old if outcome == "old" else new
    assert _flags(home) == expected
    assert _flags(home, reparse=True) == expected  # and nothing (re)appears later
    _check_file(home)


@pytest.mark.parametrize("how", ["APPEND", "COPY"])
def test_saving_with_a_new_keyword_killed_after_the_write(base, tmp_path, how):
    """The tail parse takes the keywords X-IMAPbase declares, as a full parse does."""
    home = _copy(base, tmp_path)
    if how == "APPEND":
        _kill_append(home, "append-written", _message(7).replace(b"<m7@", b"<new7@"),
                     "(\\Seen NewKw)")
    else:
        with spawn_ours_mbox(home) as ours:
            ours.command("CREATE Other")
            assert b"OK" in ours.command("APPEND Other (\\Seen NewKw)", [
                _message(7).replace(b"<m7@", b"<new7@")])[-1]
            ours.logout()
        with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": "append-written"}) \
                as ours:
            ours.command("SELECT Other")
            with pytest.raises(ImapEOF):
                ours.command("COPY 1 INBOX")
    flags = _flags(home)
    assert flags[COUNT + 1] == {"\\Seen", "NewKw"}
    assert _flags(home, reparse=True) == flags
    _check_file(home)
