"""The session target on the mbox backend, with an MDA appending between commands.

The MDA (``fuzz/mda.py``) writes as postfix's local does: dot-lock, fcntl lock,
From line, ``>From`` quoting. The planted COPY race (``tests/planted_copy.py``) is
found on mbox too, in process and through the real program, and its saved case
names the backend, so it replays on mbox.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from planted_copy import OldCopyMachine, OldCopySession

from fuzz import mda, session_target
from fuzz.case import read_case
from fuzz.replay import replay
from fuzz.runner import run_target


def test_mbox_entry_is_what_an_mda_writes():
    entry = mda.mbox_entry(b"From: a\r\nSubject: s\r\n\r\nFrom here\r\nok", 0.0)
    assert entry == (b"From MAILER-DAEMON  Thu Jan  1 00:00:00 1970\n"
                     b"From: a\nSubject: s\n\n>From here\nok\n\n")


def test_delivery_waits_for_the_dot_lock(tmp_path):
    box = tmp_path / "inbox"
    box.write_bytes(b"")
    lock = tmp_path / "inbox.lock"
    lock.write_bytes(b"1")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (mda.deliver_mbox(str(box), b"x\n", 0.0),
                                              done.set()))
    thread.start()
    time.sleep(0.2)
    assert not done.is_set() and box.read_bytes() == b""  # held off by the lock
    lock.unlink()
    thread.join(10)
    assert done.is_set() and box.read_bytes().endswith(b"\nx\n\n")
    assert not os.path.exists(lock)


def test_mbox_target_finds_the_planted_copy_race(tmp_path):
    found = []
    for seed in range(3):
        stats, path, error = run_target("session", 600, seed, machine=OldCopyMachine,
                                        corpus=tmp_path / str(seed), max_examples=300,
                                        batch=300, shrink_seconds=3, backend="mbox")
        if path is not None:
            assert "expected NO" in error, error
            found.append(path)
    assert len(found) >= 2, f"found the planted race on mbox for {len(found)} of 3 seeds"
    assert read_case(found[0].read_bytes()).meta["backend"] == "mbox"
    with pytest.raises(AssertionError):
        replay(found[0], session_factory=OldCopySession)
    replay(found[0], machine=session_target.SessionMachine)


def test_real_session_on_mbox_passes(tmp_path):
    stats, path, error = run_target("session", 600, 11, corpus=tmp_path, max_examples=60,
                                    backend="mbox")
    assert path is None, error
    assert stats.examples >= 60


SITECUSTOMIZE = '''
import sys

sys.path.append(TESTS)
from planted_copy import skipping  # noqa: E402
from imapsession.session import Session  # noqa: E402

_dispatch = Session._dispatch


def dispatch(self, command, entry):
    mailbox = self.view.mailbox if self.view is not None else None
    if command.name not in ("COPY", "MOVE") or mailbox is None:
        return _dispatch(self, command, entry)
    mailbox.copy_to = skipping(mailbox.copy_to)
    mailbox.move_to = skipping(mailbox.move_to)
    try:
        return _dispatch(self, command, entry)
    finally:
        del mailbox.copy_to, mailbox.move_to


Session._dispatch = dispatch
'''


def test_binary_on_mbox_finds_the_planted_copy_race(tmp_path, monkeypatch):
    """The real program on mbox, the old COPY put back through a sitecustomize.

    Without the plant the same run (seed 1, 40 examples) passes: measured 20 s.
    """
    from fuzz import harness

    plant = tmp_path / "plant"
    plant.mkdir()
    tests = os.path.dirname(os.path.abspath(__file__))
    (plant / "sitecustomize.py").write_text(f"TESTS = {tests!r}\n" + SITECUSTOMIZE)
    monkeypatch.setattr(harness.Binary, "extra_path", (str(plant),))
    stats, path, error = run_target("binary", 600, 1, corpus=tmp_path / "case",
                                    max_examples=40, batch=40, shrink_seconds=3,
                                    backend="mbox")
    assert path is not None, f"not found in {stats.examples} examples"
    assert "expected NO" in error, error
