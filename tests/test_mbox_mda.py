"""A real MDA (Dovecot's dovecot-lda) delivers into the mbox while a session works on it.

The session keeps running NOOP, STORE (flags written in place) and EXPUNGE (the
file rewritten behind the journal) while deliveries arrive, each waiting for
the other through dot-lock and fcntl. Afterwards every delivered message is
there exactly once, what was expunged is gone, and Dovecot's imap reading the
same file agrees.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from mbox_helpers import (
    DOVECOT_LDA,
    chown_tree,
    lda_deliver,
    open_space,
    spawn_dovecot_mbox,
    spawn_ours_mbox,
)

from imapproc import ImapEOF

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.skipif(not os.access(DOVECOT_LDA, os.X_OK),
                       reason=f"{DOVECOT_LDA} is not installed (apt-get install dovecot-core)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="dovecot-lda runs as nobody via setpriv: needs root"),
]

PRE = 12
DELIVERED = 40


def _message(tag: str) -> bytes:
    return (f"From: mda@example.org\nSubject: {tag}\nMessage-ID: <{tag}@test>\n\n"
            f"body of {tag}\nFrom here on, a body line that looks like a From line\n").encode()


@pytest.fixture
def home():
    top = open_space()
    home = top / "home"
    (home / "mail" / ".imap").mkdir(parents=True)
    chown_tree(top)
    for i in range(PRE):
        lda_deliver(home, _message(f"pre{i}"))
    yield home
    shutil.rmtree(top, ignore_errors=True)


def _ids(server) -> list[str]:
    answer = b"".join(server.command("FETCH 1:* BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"))
    return re.findall(r"<([a-z]+\d+)@test>", answer.decode())


def test_deliveries_during_store_and_expunge_all_arrive_once(home: Path):
    errors: list[BaseException] = []

    def deliver_all() -> None:
        try:
            for i in range(DELIVERED):
                lda_deliver(home, _message(f"lda{i}"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    expunged: set[str] = set()
    with spawn_ours_mbox(home, timeout=60) as ours:
        ours.command("SELECT INBOX")
        assert _ids(ours) == [f"pre{i}" for i in range(PRE)]
        mda = threading.Thread(target=deliver_all)
        mda.start()
        rounds = 0
        while mda.is_alive() or rounds < 4:
            rounds += 1
            answer = ours.command("NOOP")
            assert answer[-1].split()[1] == b"OK", answer
            answer = ours.command("STORE 1:* +FLAGS.SILENT (\\Seen $Read)")
            assert answer[-1].split()[1] == b"OK", answer
            if rounds % 2 == 0 and len(expunged) < PRE // 2:
                # expunge one of the messages that were there before, by its Message-ID
                ids = _ids(ours)
                victim = next(i for i in ids if i.startswith("pre") and i not in expunged)
                seq = ids.index(victim) + 1
                ours.command(f"STORE {seq} +FLAGS.SILENT (\\Deleted)")
                answer = ours.command("EXPUNGE")
                assert answer[-1].split()[1] == b"OK", answer
                expunged.add(victim)
        mda.join()
        assert not errors, errors
        ours.command("NOOP")
        ids = _ids(ours)
        flags = b"".join(ours.command("FETCH 1:* FLAGS"))
        ours.logout()
    assert rounds >= 4 and len(expunged) >= 2
    expected = [f"pre{i}" for i in range(PRE) if f"pre{i}" not in expunged] + [
        f"lda{i}" for i in range(DELIVERED)]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    assert flags.count(b"$Read") >= len(expected) - DELIVERED  # the flags stayed put
    # Dovecot reads the same file the same way (a copy it owns, as it runs as nobody)
    copy = home.parent / "dovecot-copy"
    (copy / "mail").mkdir(parents=True)
    shutil.copy(home / "mail" / "inbox", copy / "mail" / "inbox")
    with spawn_dovecot_mbox(copy) as dovecot:
        dovecot.command("EXAMINE INBOX")
        assert _ids(dovecot) == ids
        dovecot.logout()


def _kill_a_writer_holding_the_lock(home: Path) -> Path:
    """A session of ours killed inside a STORE, with the dot-lock held; the lock it left."""
    with spawn_ours_mbox(home, env_extra={"IMAPSESSION_MBOX_FAULT": "store-written"},
                         timeout=60) as ours:
        ours.command("SELECT INBOX")
        with pytest.raises(ImapEOF):
            ours.command("STORE 1 +FLAGS (\\Flagged)")
        assert ours.wait() == -signal.SIGKILL
    lock = home / "mail" / "inbox.lock"
    assert lock.exists(), "the kill left no dot-lock: the test would show nothing"
    return lock


LDA_BOUND_S = 10.0  # Dovecot breaks a dead pid's PID:HOST lock once it is 2 s old


def test_dovecot_lda_breaks_a_killed_sessions_lock_in_seconds(home: Path):
    """Our lock holds PID:HOST as Dovecot's does: dovecot-lda sees the pid is dead and
    breaks it at once (a bare pid would make it wait for its 120-second change timeout)."""
    lock = _kill_a_writer_holding_the_lock(home)
    assert re.fullmatch(rb"\d+:" + re.escape(socket.gethostname().encode()), lock.read_bytes())
    started = time.monotonic()
    lda_deliver(home, _message("after0"))
    took = time.monotonic() - started
    assert took < LDA_BOUND_S, f"dovecot-lda waited {took:.1f} s for a dead session's lock"
    with spawn_ours_mbox(home, timeout=60) as ours:
        ours.command("EXAMINE INBOX")
        assert _ids(ours)[-1] == "after0"
        ours.logout()


def test_a_reading_session_breaks_a_killed_writers_lock(home: Path):
    lock = _kill_a_writer_holding_the_lock(home)
    with spawn_ours_mbox(home, timeout=60) as ours:
        ours.command("EXAMINE INBOX")
        assert len(_ids(ours)) == PRE  # a read: no write lock taken, no write made
        assert not lock.exists()
        ours.logout()
