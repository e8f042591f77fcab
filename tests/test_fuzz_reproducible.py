"""A seed is one run: fixed example counts, one pinned Hypothesis, and a fixed clock.

CI drives the fuzzer by example counts (fuzz/ci.sh), not seconds, so the load of
the machine cannot change what runs; the clock the server and the fuzzer read is
injected (imapsession/clock.py), so UIDVALIDITY and internal dates repeat too.
"""

from __future__ import annotations

import re
from pathlib import Path

import hypothesis

from fuzz.harness import Harness, Sent
from fuzz.runner import FIXED_CLOCK, run_target
from imapsession import clock

REPO = Path(__file__).resolve().parent.parent


def test_hypothesis_is_pinned_to_the_installed_version():
    text = (REPO / "pyproject.toml").read_text()
    (test_extras,) = re.findall(r"^test = \[(.*?)\]", text, re.S | re.M)
    (pin,) = re.findall(r'"(hypothesis[^"]*)"', test_extras)
    assert pin == f"hypothesis=={hypothesis.__version__}", pin


def test_ci_counts_examples_not_seconds():
    script = (REPO / "fuzz" / "ci.sh").read_text()
    runs = [line for line in script.splitlines() if " -m fuzz " in line]
    assert len(runs) == 7 and all("--examples" in r and "--seconds" not in r for r in runs)


def test_same_seed_and_count_same_run(tmp_path):
    first, path1, _ = run_target("session", float("inf"), 11, max_examples=12, corpus=tmp_path)
    second, path2, _ = run_target("session", float("inf"), 11, max_examples=12, corpus=tmp_path)
    assert path1 is None and path2 is None
    assert (first.examples, first.commands) == (second.examples, second.commands)
    assert first.digest.hexdigest() == second.digest.hexdigest()


def _uidvalidity(transport: str) -> int:
    harness = Harness(transport, clock_start=FIXED_CLOCK)
    try:
        harness.open("A")
        ((_sent, untagged, tagged),) = harness.exchange("A", b"s SELECT INBOX\r\n",
                                                       [Sent("s", "SELECT")])
        assert tagged.name == "OK"
        return next(r.code_data for r in untagged if r.code == "UIDVALIDITY")
    finally:
        harness.close()


def test_the_fixed_clock_reaches_the_server_in_process():
    assert _uidvalidity("session") == int(FIXED_CLOCK) + 1  # one exchange: one second
    assert not clock.injected(), "the harness leaves the system clock behind"


def test_the_fixed_clock_reaches_the_program():
    assert _uidvalidity("binary") == int(FIXED_CLOCK)  # frozen at the spawn


def test_a_saved_case_names_its_clock(tmp_path):
    from fuzz.case import read_case, write_case

    written = write_case([("open", "A", b"")], ["target session"], tmp_path,
                         {"target": "session", "clock": repr(FIXED_CLOCK)})
    assert read_case(written.read_bytes()).meta["clock"] == repr(FIXED_CLOCK)
    assert re.search(rb"#! clock 1767225600", written.read_bytes())
