"""The fuzzer finds bugs: a fault planted three steps deep is found, with a reproducer.

The planted fault: a copy of the session that fails (as ``[SERVERBUG]``) on a
STORE with a keyword, but only after a COPY into a mailbox CREATEd in the same
session. The session target must find it within a bounded number of examples
for at least 9 of 10 seeds, and write a reproducer that shows the three steps.
"""

from __future__ import annotations

from fuzz import session_target
from fuzz.runner import read_transcript, run_target
from imapsession.session import Session

MAX_EXAMPLES = 400


class PlantedSession(Session):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.created: set[str] = set()
        self.copied_into_created = False

    def _dispatch(self, command, entry):
        if command.name == "CREATE":
            self.created.add(command.args[0])
        elif command.name == "COPY" and command.args[1] in self.created:
            self.copied_into_created = True
        elif (command.name == "STORE" and self.copied_into_created
              and any(not flag.startswith("\\") for flag in command.args[3])):
            try:  # the planted fault, reported as the server reports any exception
                raise RuntimeError("planted fault")
            except RuntimeError:
                return self.internal_error(command)
        return super()._dispatch(command, entry)


class PlantedMachine(session_target.SessionMachine):
    session_factory = PlantedSession


def test_session_target_finds_a_planted_three_step_fault(tmp_path):
    found = 0
    for seed in range(10):
        # one Hypothesis run per seed (batch = the whole bound), shrinking capped
        stats, path, error = run_target("session", 600, seed, machine=PlantedMachine,
                                        corpus=tmp_path / str(seed), max_examples=MAX_EXAMPLES,
                                        batch=MAX_EXAMPLES, shrink_seconds=3)
        if path is None:
            continue
        assert "SERVERBUG" in error, error
        sent = b"".join(d for k, _w, d in read_transcript(path.read_bytes()) if k == "send")
        assert b" CREATE " in sent and b" COPY " in sent and b" STORE " in sent, sent
        found += 1
    assert found >= 9, f"found the planted fault for only {found} of 10 seeds"


def test_unplanted_session_passes_the_same_budget(tmp_path):
    """The same run on the real session finds nothing: the planted test's hits are the fault."""
    stats, path, error = run_target("session", 600, 0, corpus=tmp_path, max_examples=50)
    assert path is None, error
    assert stats.examples >= 50


class NeverTellsFlags(Session):
    """Never sends the FETCH FLAGS update for a change another session made."""

    def _dispatch(self, command, entry):
        done = super()._dispatch(command, entry)
        view = self.view
        if view is not None and not getattr(view, "planted", False):
            def silent_updates(changed, silent_uids, with_uid):
                for record in changed:
                    if record.uid not in view.gone:
                        view.flags[record.uid] = record.flags
                return []
            view._flag_updates = silent_updates
            view.planted = True
        return done


class NeverTellsMachine(session_target.SessionMachine):
    session_factory = NeverTellsFlags


def test_a_session_never_told_of_flag_changes_is_caught(tmp_path):
    """Old or new flags are both right until the sync point; after it, only the new."""
    found = []
    for seed in range(5):
        stats, path, error = run_target("session", 600, seed, machine=NeverTellsMachine,
                                        corpus=tmp_path / str(seed), max_examples=200,
                                        batch=200, shrink_seconds=3)
        if path is not None:
            assert "flags" in error or "FLAGS" in error, error
            found.append(path)
    assert len(found) >= 4, f"found the planted silence for only {len(found)} of 5 seeds"
