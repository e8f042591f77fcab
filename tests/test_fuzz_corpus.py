"""Every reproducer the fuzzer kept in fuzz/corpus/ replays clean (its bug stays fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.case import read_case
from fuzz.runner import CORPUS, read_transcript, replay, write_transcript

CASES = sorted(CORPUS.glob("*.imap"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_corpus_case_replays_clean(path: Path):
    replay(path)


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_corpus_case_names_the_checks_that_found_it(path: Path):
    """No vacuous replays: a session case carries its model and the rule steps it ran."""
    case = read_case(path.read_bytes())
    assert case.meta.get("target") in ("parser", "session", "binary"), case.meta
    if case.meta["target"] != "parser":
        assert case.meta.get("model") and case.rule_steps, f"{path.name}: no model steps"


def test_corpus_is_not_empty():
    assert CASES, "fuzz/corpus/ holds the reproducers of fixed bugs"


def test_transcript_round_trip(tmp_path):
    steps = [("open", "A", b""), ("send", "A", b"a NOOP\r\n"), ("deliver", "INBOX", b"x\n#! y\n"),
             ("send", "B", b"b {3}\r\n#! \r\n"), ("send", "A", b"no newline"),
             ("step", "", {"rule": "r", "args": {"sid": "A", "data": "st.data()"},
                           "draws": [1, b"x\xff", ("OR", ("ALL",)), frozenset({"\\Seen"}),
                                     None, True, [2]]})]
    path = write_transcript(steps, ["target test"], tmp_path)
    assert read_transcript(path.read_bytes()) == steps


def test_replay_catches_a_broken_response(tmp_path, monkeypatch):
    """The replay's checks can fail: a server answering without a tag is caught."""
    from imapsession.session import Session

    original = Session.receive
    monkeypatch.setattr(Session, "receive", lambda self, data: original(self, data)
                        .replace(b"OK NOOP", b"OK\xff NOOP"))
    path = write_transcript([("open", "A", b""), ("send", "A", b"a NOOP\r\n")], ["target t"],
                            tmp_path)
    with pytest.raises(AssertionError, match="RFC 3501 syntax"):
        replay(path)


def test_too_many_literals_case_is_answered_and_the_session_goes_on(tmp_path):
    """Issue 13: the reproducer's 8019 literals get BAD [LIMIT], not BYE; the next command runs."""
    from fuzz.runner import strip
    from transcript import Client

    client = Client(tmp_path / "Maildir")
    answer = client.lines(strip(CORPUS / "framing-too-many-literals.imap") + b"n NOOP\r\n")
    assert answer == ["m BAD [LIMIT] Too many literals in one command", "n OK NOOP completed."]
