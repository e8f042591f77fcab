"""The fuzzer finds the COPY race of issue 13 when it is planted back.

``tests/planted_copy.py`` puts back the old COPY/MOVE, which skipped a message
another session had expunged and answered OK for the rest. The session target
(its ``race`` op: one session expunges or moves, the other copies unsynced) must
find it within ``MAX_EXAMPLES`` on at least 9 of 10 fixed seeds, and the saved
case must fail its replay on the planted server and pass on the real one.
Measured: 10 of 10 seeds, after 20 to 184 examples (shrinking included), 60 to 80 s.
"""

from __future__ import annotations

import pytest
from planted_copy import OldCopyMachine, OldCopySession

from fuzz import session_target
from fuzz.replay import replay
from fuzz.runner import read_transcript, run_target

MAX_EXAMPLES = 300
SEEDS = range(10)


def test_session_target_finds_the_planted_copy_race(tmp_path):
    found = []
    for seed in SEEDS:
        stats, path, error = run_target("session", 600, seed, machine=OldCopyMachine,
                                        corpus=tmp_path / str(seed), max_examples=MAX_EXAMPLES,
                                        batch=MAX_EXAMPLES, shrink_seconds=3)
        if path is None:
            continue
        assert "expected NO" in error or "EXPUNGEISSUED" in error, error
        sent = b"".join(d for k, _w, d in read_transcript(path.read_bytes()) if k == "send")
        assert b" COPY " in sent or b" MOVE " in sent, sent
        found.append(path)
    assert len(found) >= 9, f"found the planted COPY race for only {len(found)} of 10 seeds"
    # the reproducer is the bug: it fails on the planted session, passes on the real one
    with pytest.raises(AssertionError):
        replay(found[0], session_factory=OldCopySession)
    replay(found[0], machine=session_target.SessionMachine)
