"""Replay a saved case through the checks that found it; raise ``AssertionError`` where it fails.

A session case re-runs its recorded rule steps on a fresh machine of the model
it names (``fuzz/steps.py``), so every answer is held to the model again: a
wrong answer fails the replay as it failed the run, and IDLE/DONE is driven by
the same rule code as in the live run. A parser case re-runs the parser checks
on its bytes, then sends them to a session with the harness's generic checks.
A case with no recorded steps (format 1) can only get the generic checks.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from fuzz.case import Case, read_case
from fuzz.harness import ClientView, Harness, Sent
from fuzz.steps import run_steps


def replay(path: Path, transport: str | None = None, *, machine: type | None = None,
           session_factory=None) -> None:
    """Replay ``path``; ``machine`` and ``session_factory`` replace what the case names."""
    case = read_case(Path(path).read_bytes())
    target = case.meta.get("target", "session")
    transport = transport or case.meta.get("transport") or (
        "binary" if target == "binary" else "session")
    if target == "parser":
        check_parser(case)
        replay_transcript(case, transport, session_factory)
    elif case.rule_steps:
        replay_model(case, transport, machine, session_factory)
    else:
        replay_transcript(case, transport, session_factory)


def clock_start(case: Case) -> float | None:
    """The fixed clock the case ran on; a case without one (format 1, or real) gets none."""
    value = case.meta.get("clock", "real")
    return None if value == "real" else float(value)


def model_class(name: str) -> type:
    module, _, qualname = name.partition(":")
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def replay_model(case: Case, transport: str, machine: type | None, session_factory) -> None:
    base = machine or model_class(case.meta.get("model", "fuzz.session_target:SessionMachine"))
    attrs = {"transport": transport, "clock_start": clock_start(case),
             "backend": case.meta.get("backend", "maildir")}
    if session_factory is not None:
        attrs["session_factory"] = staticmethod(session_factory)
    instance = type(base.__name__, (base,), attrs)()
    try:
        run_steps(instance, case.rule_steps)
    finally:
        instance.teardown()


def check_parser(case: Case) -> None:
    from fuzz import parser_target

    for kind, _who, data in case.steps:
        if kind != "send":
            continue
        parser_target.check_broken(data)
        if case.meta.get("check") == "roundtrip":
            parser_target.check_reencoded(data)


# a SELECT or EXAMINE line in a chunk: the bytes-only replay cannot tell its EXISTS
# from a later one (only the sync NOOP is an expected command), so the view restarts
SELECTS = re.compile(rb"(?:^|\n)[^ \r\n]+ (?:SELECT|EXAMINE) ", re.I)


def replay_transcript(case: Case, transport: str, session_factory=None) -> None:
    """The client's bytes with the harness's generic checks, a sync NOOP after each chunk."""
    harness = Harness(transport, session_factory, clock_start(case),
                      case.meta.get("backend", "maildir"))
    idling: dict[str, str] = {}  # session -> the tag of its IDLE awaiting DONE
    try:
        for kind, who, data in case.steps:
            if kind == "open":
                harness.open(who)
            elif kind == "deliver":
                if harness.has_box(who):
                    harness.deliver(who, data)
            elif kind != "send" or not harness.alive(who):
                continue
            elif data.upper().endswith(b" IDLE\r\n") and data.count(b"\n") == 1:
                # IDLE's continuation; the next chunk for this session holds DONE
                idling[who] = data.split(b" ", 1)[0].decode()
                harness.exchange(who, data, [], until_continuation=True)
            else:
                if SELECTS.search(data):
                    harness.views[who] = ClientView()
                sent = [Sent(idling.pop(who), "IDLE")] if who in idling else []
                tag = f"replaysync{len(harness.transcript)}"
                harness.exchange(who, data + tag.encode() + b" NOOP\r\n",
                                 sent + [Sent(tag, "NOOP")], broken=True)
    finally:
        harness.close()
