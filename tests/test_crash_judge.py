"""The kill -9 test's judge names each kind of damage (so a clean verdict means something)."""

from __future__ import annotations

import attrs
import pytest
from crash_judge import APPEND_FLAGS, NEW_TAG, STORE_ADDS, judge
from crash_world import Box, Message


def _m(tag: str, *flags: str, digest: str = "") -> Message:
    return Message(tag, frozenset(flags), digest or f"d-{tag}")


BEFORE = {
    "INBOX": Box(7, {1: _m("in1", "\\Seen"), 2: _m("in2", "\\Deleted"), 3: _m("in3"),
                     4: _m("in4", "\\Deleted"), 5: _m("in5")}),
    "Other": Box(8, {1: _m("ot1"), 2: _m("ot2")}),
}


def _with(name: str, **changes) -> dict[str, Box]:
    world = dict(BEFORE)
    world[name] = attrs.evolve(world[name], **changes)
    return world


def _inbox(messages: dict[int, Message]) -> dict[str, Box]:
    return _with("INBOX", messages=messages)


def _other_plus(*extra: Message) -> dict[str, Box]:
    messages = dict(BEFORE["Other"].messages)
    for i, m in enumerate(extra):
        messages[3 + i] = m
    return _with("Other", messages=messages)


IN = BEFORE["INBOX"].messages
NEW = _m(NEW_TAG, *APPEND_FLAGS, digest="whole")


@pytest.mark.parametrize("op", ["APPEND", "COPY", "MOVE", "EXPUNGE", "STORE", "RENAME"])
def test_nothing_changed_is_clean(op):
    assert judge(op, BEFORE, dict(BEFORE), "whole") == set()


@pytest.mark.parametrize("op,after,expected", [
    ("APPEND", _inbox({**IN, 6: NEW}), set()),
    ("APPEND", _inbox({**IN, 6: attrs.evolve(NEW, digest="cut")}), {"partial"}),
    ("APPEND", _inbox({**IN, 6: NEW, 7: NEW}), {"duplicated"}),
    ("APPEND", _inbox({**IN, 6: attrs.evolve(NEW, flags=frozenset({"\\Seen"}))}), {"flags"}),
    ("APPEND", _inbox({u: m for u, m in IN.items() if u != 3}), {"lost"}),
    ("APPEND", _inbox({**IN, 3: _m("in3", digest="other")}), {"changed"}),
    ("APPEND", _with("INBOX", uidvalidity=9), {"uidvalidity"}),
    ("COPY", _other_plus(*IN.values()), set()),
    ("COPY", _other_plus(IN[1], IN[2]), {"half-done COPY"}),
    ("COPY", _other_plus(*IN.values(), IN[1]), {"duplicated"}),
    ("COPY", _other_plus(*[m if u != 3 else attrs.evolve(m, digest="cut")
                           for u, m in IN.items()]), {"partial"}),
    ("MOVE", {**_inbox({u: m for u, m in IN.items() if u > 3}),
              "Other": _other_plus(IN[1], IN[2], IN[3])["Other"]}, set()),
    ("MOVE", _other_plus(IN[1]), {"half-done MOVE"}),
    ("MOVE", _inbox({u: m for u, m in IN.items() if u != 1}), {"lost"}),
    ("EXPUNGE", _inbox({u: m for u, m in IN.items() if u != 2}), set()),
    ("EXPUNGE", _inbox({u: m for u, m in IN.items() if u != 3}), {"lost"}),
    ("STORE", _inbox({**IN, 2: attrs.evolve(IN[2], flags=IN[2].flags | STORE_ADDS)}), set()),
    ("STORE", _inbox({**IN, 2: attrs.evolve(IN[2], flags=IN[2].flags | {"\\Flagged"})}),
     {"flags"}),
    ("STORE", _inbox({**IN, 1: attrs.evolve(IN[1], flags=IN[1].flags | STORE_ADDS)}),
     {"flags"}),  # UID 1 is not in the set
    ("RENAME", {"INBOX": BEFORE["INBOX"], "Renamed": BEFORE["Other"]}, set()),
    ("RENAME", {**BEFORE, "Renamed": BEFORE["Other"]}, {"half-done RENAME"}),
    ("RENAME", {"INBOX": BEFORE["INBOX"], "Renamed": attrs.evolve(BEFORE["Other"],
                                                                  uidvalidity=99)},
     {"uidvalidity"}),
    ("RENAME", {"INBOX": BEFORE["INBOX"]}, {"lost"}),
])
def test_each_kind_of_damage_is_named(op, after, expected):
    assert judge(op, BEFORE, after, "whole") == expected
