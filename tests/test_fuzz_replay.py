"""A replay re-checks every answer through the model: a saved wrong answer fails it again.

The planted bug is a wrong answer, not a crash: SEARCH leaves out the last
message it found. Only the model can tell (the bytes are valid IMAP), so a replay
of the bytes alone passes it; the replay of the recorded steps must not.
"""

from __future__ import annotations

import re

import pytest

from fuzz import session_target
from fuzz.case import read_case
from fuzz.replay import replay, replay_transcript
from fuzz.runner import run_target
from fuzz.steps import run_steps
from imapsession.session import Session

LAST_HIT = re.compile(rb"(\* SEARCH(?: \d+)*) \d+\r\n")


class DropsLastHit(Session):
    """Answers SEARCH without its last number: a wrong answer with valid syntax."""

    def receive(self, data: bytes) -> bytes:
        return LAST_HIT.sub(rb"\1\r\n", super().receive(data))


class DropsLastHitMachine(session_target.SessionMachine):
    session_factory = DropsLastHit


@pytest.fixture(scope="module")
def planted_case(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    for seed in range(5):
        _stats, path, error = run_target("session", 600, seed, machine=DropsLastHitMachine,
                                         corpus=directory, max_examples=60, batch=60,
                                         shrink_seconds=5)
        if path is not None:
            assert "SEARCH" in error, error
            return path
    pytest.fail("the fuzzer did not find the planted wrong SEARCH answer")


def test_case_names_its_model_and_records_steps(planted_case):
    case = read_case(planted_case.read_bytes())
    assert case.meta["format"] == "2"
    assert case.meta["target"] == "session"
    assert case.meta["model"].endswith(":DropsLastHitMachine")
    assert case.rule_steps, "no rule steps recorded"


def test_replay_against_the_planted_server_fails(planted_case):
    with pytest.raises(AssertionError, match="SEARCH"):
        replay(planted_case, machine=DropsLastHitMachine)


def test_replay_against_the_fixed_server_passes(planted_case):
    replay(planted_case, machine=session_target.SessionMachine)


def test_bytes_alone_would_have_passed(planted_case):
    """Why the steps are needed: the old replay (bytes and generic checks) sees nothing."""
    replay_transcript(read_case(planted_case.read_bytes()), "session", DropsLastHit)


IDLE_STEPS = [
    ("open", "A", b""), ("open", "B", b""),
    ("step", "", {"rule": "select", "args": {"sid": "A", "data": "st.data()", "readonly": False},
                  "draws": [1, "INBOX"]}),
    ("step", "", {"rule": "idle", "args": {"sid": "A", "name": "INBOX", "how": "deliver"},
                  "draws": []}),
    ("step", "", {"rule": "idle", "args": {"sid": "A", "name": "INBOX",
                                           "how": "at_once_then_noop"}, "draws": []}),
]


def test_idle_replays_as_it_ran(tmp_path):
    """IDLE, mail arriving, DONE: the replay drives it through the same rule (the old
    replay took IDLE's completion after DONE for an unexpected tagged response)."""
    from fuzz.case import write_case

    path = write_case(IDLE_STEPS, ["target session"], tmp_path,
                      {"target": "session", "model": "fuzz.session_target:SessionMachine",
                       "transport": "session", "clock": "1767225600.0"})
    replay(path)
    # the bytes the machine sent, replayed the old way (bytes only), pass too
    machine = session_target.SessionMachine
    instance = type("M", (machine,), {"clock_start": 1767225600.0})()
    try:
        run_steps(instance, read_case(path.read_bytes()).rule_steps)
        transcript = list(instance.h.transcript)
    finally:
        instance.teardown()
    sent = [s for s in transcript if s[0] in ("open", "send", "deliver")]
    assert any(s[0] == "send" and s[2].endswith(b" IDLE\r\n") for s in sent)
    legacy = write_case(sent, ["target session"], tmp_path / "legacy")
    replay_transcript(read_case(legacy.read_bytes()), "session")
