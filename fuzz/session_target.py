"""The session target: a Hypothesis state machine of two clients and a mail delivery agent.

Two sessions, A and B, work on one maildir while messages arrive in ``new/``
from outside. Every rule sends real IMAP (sometimes several commands pipelined
in one chunk, sometimes garbage followed by a sync NOOP); the harness checks
what holds for any response, and each rule's checker holds the answers to the
model in ``fuzz/model.py``: EXISTS and SELECT counts, UIDs from APPENDUID and
COPYUID, FETCH flags and sizes, SEARCH results, STATUS counts, LIST names.

The rules live per command family in ``fuzz/machine/`` (mixins on ``MachineBase``);
this module puts them together and weighs them. Hypothesis orders rules by name,
not by class, so the fixed seeds explore as they did with one class.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fuzz import strategies as fst
from fuzz.machine.base import SIDS
from fuzz.machine.checks import fail
from fuzz.machine.connections import ConnectionRules
from fuzz.machine.copy_move import CopyMoveRules
from fuzz.machine.edges import EdgeRules
from fuzz.machine.expunge import ExpungeRules
from fuzz.machine.fetch import FetchRules, GrammarFetchRules
from fuzz.machine.incoming import IncomingRules
from fuzz.machine.mailboxes import MailboxRules
from fuzz.machine.race import RaceRules
from fuzz.machine.search import GrammarSearchRules, SearchRules
from fuzz.machine.store import StoreRules
from imapsession.protocol.command import Command


class SessionMachine(ConnectionRules, MailboxRules, IncomingRules, StoreRules, FetchRules,
                     SearchRules, ExpungeRules, CopyMoveRules, EdgeRules, GrammarFetchRules,
                     GrammarSearchRules, RaceRules):
    """The rules of every family, on the plumbing of ``MachineBase``."""

    def op_check_view(self, data, sid):
        """NOOP, then FETCH everything: the client's view must be the mailbox exactly."""
        self._run(sid, [self._noop(), self._learn(sid)])
        box = self._box(sid)
        if box is None:
            return
        view = self.h.views[sid]
        if view.uids != box.known_uids() or len(view.uids) != len(box.msgs):
            raise fail(f"after NOOP session {sid} sees UIDs {view.uids}, the mailbox has "
                       f"{box.known_uids()} of {len(box.msgs)} messages")
        for msg in box.msgs:
            if view.flags.get(msg.uid) != frozenset(msg.flags):
                raise fail(f"UID {msg.uid}: client told {view.flags.get(msg.uid)}, "
                           f"model {sorted(msg.flags)}")

    @precondition(lambda self: any(self._selected_ok(s) for s in SIDS))
    @rule(data=st.data())
    def in_selected(self, data):
        """A command of the selected state (weighted: see SELECTED_OPS)."""
        sid = data.draw(st.sampled_from([s for s in SIDS if self._selected_ok(s)]))
        op = data.draw(st.sampled_from(SELECTED_OPS))
        getattr(self, "op_" + op)(data, sid)

    @invariant()
    def uids_ascend(self):
        for box in self.model.boxes.values():
            known = [m.uid for m in box.msgs if m.uid is not None]
            if len(set(known)) != len(known):
                raise fail(f"duplicate UIDs in one mailbox: {sorted(known)}")


# Rule weights. Hypothesis draws every enabled rule equally often; a rule listed
# under n names is drawn n times as often (its printed name stays the same). Most of
# what can go wrong needs a selected mailbox, so SELECT and the commands of the
# selected state (one rule, ``in_selected``, that draws one of SELECTED_OPS) weigh
# more than the rest. Each extra name costs Hypothesis time on every step, so the
# selected state's own weights are a list to draw from instead.
WEIGHTS = {"select": 3, "in_selected": 8, "create": 2}
SELECTED_OPS = (["store"] * 4 + ["fetch"] * 4 + ["copy"] * 4 + ["search"] * 3
                + ["expunge"] * 3 + ["check_view"] * 3 + ["close"]
                # one session expunges or moves, the other copies unsynced (fuzz/machine/race.py)
                + ["race"] * 3
                # whatever the grammar accepts (fuzz/strategies.py draws from its tables)
                + ["fetch_any"] * 2 + ["search_any"] * 2)


def weigh(machine: type[RuleBasedStateMachine], weights: dict[str, int]) -> None:
    for name, weight in weights.items():
        for n in range(2, weight + 1):
            setattr(machine, f"{name}_weight{n}", getattr(machine, name))


weigh(SessionMachine, WEIGHTS)


def parser_roundtrip_command() -> st.SearchStrategy[Command]:
    return fst.commands()
