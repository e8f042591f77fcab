"""Record the rules a state machine ran, with every value they drew, and run them again.

The client's bytes alone replay a case without its model: a wrong answer (not a
crash) then passes forever. So each rule call is kept as a step (its name, its
arguments, and every value it drew from ``st.data()``) in the harness's
transcript, and a replay calls the same rules with the same values on a fresh
machine: the model builds its expectations again and checks every answer.

Values travel as JSON, with tags for the types JSON lacks (bytes, tuples, sets).
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import attrs
from hypothesis.strategies import DataObject

DATA = "st.data()"  # a rule argument that was st.data(): its draws are in "draws"


class ReplayDiverged(AssertionError):
    """The replayed machine asked for something the recorded run did not do."""


# --- values as JSON -----------------------------------------------------------------------


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, tuple):
        return {"tuple": [to_json(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {kind: sorted((to_json(v) for v in value), key=repr)}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if attrs.has(type(value)):  # Command values: FetchItem, SearchKey, SequenceSet, ...
        cls = type(value)
        fields = {f.alias: to_json(getattr(value, f.name)) for f in attrs.fields(cls) if f.init}
        return {"attrs": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise TypeError(f"a drawn value the case format cannot keep: {value!r}")


def from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "attrs" in value:
        module, _, name = value["attrs"].partition(":")
        cls = getattr(importlib.import_module(module), name)
        return cls(**{k: from_json(v) for k, v in value["fields"].items()})
    ((kind, inner),) = value.items()
    if kind == "bytes":
        return inner.encode("latin-1")
    if kind == "tuple":
        return tuple(from_json(v) for v in inner)
    if kind == "frozenset":
        return frozenset(from_json(v) for v in inner)
    if kind == "set":
        return {from_json(v) for v in inner}
    if kind == "dict":
        return {from_json(k): from_json(v) for k, v in inner}
    if kind == "datetime":
        return datetime.fromisoformat(inner)
    if kind == "date":
        return date.fromisoformat(inner)
    raise ValueError(f"unknown value tag {kind!r}")


def dump_step(step: dict) -> bytes:
    args = {name: to_json(value) for name, value in step["args"].items()}
    return json.dumps({"rule": step["rule"], "args": args,
                       "draws": to_json(step["draws"])}, separators=(",", ":")).encode()


def load_step(line: bytes) -> dict:
    raw = json.loads(line)
    args = {name: from_json(value) for name, value in raw["args"].items()}
    return {"rule": raw["rule"], "args": args, "draws": from_json(raw["draws"])}


# --- recording ----------------------------------------------------------------------------


class RecordingData:
    """``st.data()`` that keeps each value it hands the rule."""

    def __init__(self, inner: DataObject, draws: list):
        self.inner = inner
        self.draws = draws

    def draw(self, strategy, label: Any = None):
        value = self.inner.draw(strategy, label)
        self.draws.append(value)
        return value


class ReplayData:
    """``st.data()`` that hands back the recorded values, in order."""

    def __init__(self, rule: str, draws: list):
        self.rule = rule
        self.draws = list(draws)

    def draw(self, strategy, label: Any = None):
        if not self.draws:
            raise ReplayDiverged(f"rule {self.rule} drew more values than the recorded run")
        return self.draws.pop(0)


def recording(function: Callable) -> Callable:
    """``function`` (a rule), appending a step to ``machine.h.transcript`` before it runs."""
    if getattr(function, "records_steps", False):
        return function

    @functools.wraps(function)
    def run(machine, **kwargs):
        draws: list = []
        args = {}
        for name, value in kwargs.items():
            if isinstance(value, (DataObject, ReplayData)):
                kwargs[name] = RecordingData(value, draws)
                args[name] = DATA
            else:
                args[name] = value
        transcript = getattr(getattr(machine, "h", None), "transcript", None)
        if transcript is not None:
            transcript.append(("step", "", {"rule": function.__name__, "args": args,
                                            "draws": draws}))
        return function(machine, **kwargs)

    run.records_steps = True
    return run


def record_rules(state) -> None:
    """Wrap every rule of a Hypothesis setup state (once) so that it records its steps."""
    for rule in list(state.rules) + list(state.initializers):
        rule.function = recording(rule.function)


# --- replaying ----------------------------------------------------------------------------


def run_steps(machine, steps: list[dict]) -> None:
    """Call the recorded rules on ``machine`` with the recorded values, invariants after each."""
    state = type(machine).setup_state()
    rules = {r.function.__name__: r for r in list(state.rules) + list(state.initializers)}
    for number, step in enumerate(steps, 1):
        rule = rules.get(step["rule"])
        if rule is None:
            raise ReplayDiverged(f"step {number}: the model has no rule {step['rule']!r}")
        if not all(p(machine) for p in rule.preconditions):
            raise ReplayDiverged(f"step {number}: {step['rule']}'s precondition no longer holds")
        kwargs = {k: ReplayData(step["rule"], step["draws"]) if v == DATA else v
                  for k, v in step["args"].items()}
        rule.function(machine, **kwargs)
        for invariant in state.invariants:
            if all(p(machine) for p in invariant.preconditions):
                invariant.function(machine)
