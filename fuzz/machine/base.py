"""The machine's plumbing: two clients, the model, pipelined actions and the view checks."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine

from fuzz.harness import Harness, Sent
from fuzz.machine.checks import fail, status_checker
from fuzz.model import KEYWORDS, SYSTEM, Box, Model
from fuzz.steps import record_rules
from fuzz.wire import Encoder

SIDS = ("A", "B")
NAMES = ("INBOX", "a", "b", "c")
FLAG_CHOICES = st.frozensets(st.sampled_from(SYSTEM + KEYWORDS), max_size=3)

LAST: list[MachineBase] = []  # the runner reads the last machine's transcript


@attrs.define
class Action:
    """One command: its bytes for a tag, and a checker run on (untagged, tagged)."""

    name: str
    wire: Callable[[str], bytes]
    check: Callable[[list, object], None]
    uid: bool = False


class MachineBase(RuleBasedStateMachine):
    """Plumbing for the rules: connections, tags, pipelined actions and the cache check."""

    transport = "session"
    backend = "maildir"  # or "mbox" (fuzz/harness.py)
    session_factory = None
    clock_start: float | None = None  # a fixed clock for the run (fuzz/harness.py)

    def __init__(self):
        super().__init__()
        LAST[:] = [self]
        self.h = Harness(self.transport, self.session_factory, self.clock_start, self.backend)
        self.model = Model()
        self.tags = itertools.count(1)
        self.enc = Encoder(random.Random(0))
        self.selected: dict[str, tuple[str, bool] | None] = {}
        self.doomed: set[str] = set()
        # per session: UID -> the flags its server-side view may still hold, for
        # messages another session changed since this one's last sync point
        self.stale: dict[str, dict[int, frozenset[str]]] = {sid: {} for sid in SIDS}
        for sid in SIDS:
            self._connect(sid)

    def teardown(self):
        self.h.close()

    @classmethod
    def setup_state(cls):
        """Hypothesis's rules for this class, each wrapped to record its steps (``fuzz/steps.py``).

        Overrides an undocumented hook of the pinned Hypothesis version; the corpus
        test fails if recording stops (a saved case would then have no steps).
        """
        state = super().setup_state()
        record_rules(state)
        return state

    # --- plumbing ----------------------------------------------------------------------

    def _connect(self, sid: str) -> None:
        self.h.open(sid)
        self.selected[sid] = None
        self.stale[sid] = {}
        self.doomed.discard(sid)

    def _tag(self, sid: str) -> str:
        return f"{sid.lower()}{next(self.tags)}"

    def _run(self, sid: str, actions: list[Action], *, current: bool = True) -> None:
        """Send the actions pipelined, check each; ``current``: the view is now up to date.

        A command refused with BAD brings no updates (nor does Dovecot send any), so
        after one the client's view may lag: pass ``current=False``.
        """
        tags = [self._tag(sid) for _ in actions]
        data = b"".join(a.wire(t) for a, t in zip(actions, tags, strict=False))
        sent = [Sent(t, a.name, a.uid) for a, t in zip(actions, tags, strict=False)]
        results = self.h.exchange(sid, data, sent)
        by_tag = {s.tag: (u, t) for s, u, t in results if s is not None}
        for action, tag in zip(actions, tags, strict=False):
            if tag not in by_tag:  # the session ended (BYE)
                self._ended(sid)
                return
            untagged, tagged = by_tag[tag]
            action.check(untagged, tagged)
        if not self.h.alive(sid):  # LOGOUT: no refresh comes with its completion
            self._ended(sid)
            return
        if current:
            self._check_cache(sid)  # after all: a pipelined FETCH may reveal UIDs early

    def _ended(self, sid: str) -> None:
        self.selected[sid] = None

    def _box(self, sid: str) -> Box | None:
        sel = self.selected[sid]
        if sel is None or sid in self.doomed:
            return None
        return self.model.boxes.get(sel[0])

    def _flags_changing(self, sid: str, msgs: list) -> None:
        """Call before ``sid`` changes ``msgs``' flags in the model.

        Until its next sync point, another session on the mailbox may answer from
        its own view, with the flags it last synced (RFC 3501 sections 5.2 and 7:
        the update may come after the answer, as Dovecot sends it): remember those.
        """
        sel = self.selected[sid]
        for other in SIDS:
            if other == sid or other in self.doomed or self.selected[other] is None \
                    or sel is None or self.selected[other][0] != sel[0]:
                continue
            for msg in msgs:
                if msg.uid is not None:
                    self.stale[other].setdefault(msg.uid, frozenset(msg.flags))

    def _check_cache(self, sid: str) -> None:
        """After every completion, what the client was told of flags is the truth.

        Called at each sync point (a completion that may carry untagged updates):
        by now the session must have been told every flag change made elsewhere,
        so its view holds no stale flags any more.
        """
        self.stale[sid] = {}
        box = self._box(sid)
        if box is None:
            return
        view = self.h.views[sid]
        for uid in view.uids:
            if uid is None:
                continue
            msg = box.by_uid(uid)
            if msg is None:
                # a FETCH without RFC822.SIZE may reveal the UID of a delivered message
                # before the model can tell which one it is: the next learning FETCH does
                unresolved = any(m.uid is None for m in box.msgs)
                if uid not in box.gone and not unresolved:
                    raise fail(f"session {sid} shows UID {uid}, which {sel_name(self, sid)} "
                               "never had")
                continue
            told = view.flags.get(uid)
            if told is not None and told != frozenset(msg.flags):
                raise fail(f"session {sid}: UID {uid} flags {sorted(told)} but the model "
                           f"has {sorted(msg.flags)}")

    def _view_known(self, sid: str) -> bool:
        """Every message in the view has a UID the model can place (or knows is gone)."""
        box = self._box(sid)
        return all(u is not None and (box is None or u in box.gone or box.by_uid(u) is not None)
                   for u in self.h.views[sid].uids)

    def _learn(self, sid: str) -> Action:
        """FETCH 1:* (UID FLAGS RFC822.SIZE): learn every UID; check sizes and flags."""
        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            for r in untagged:
                if r.name != "FETCH" or "RFC822.SIZE" not in r.data:
                    continue
                uid, size = r.data.get("UID"), r.data["RFC822.SIZE"]
                msg = box.by_uid(uid)
                if msg is None and uid not in box.gone:
                    flags = r.data.get("FLAGS")
                    msg = self.model.resolve_unknown(
                        box, uid, size, None if flags is None else
                        frozenset(f for f in flags if f != "\\Recent"), "FETCH")
                if msg is not None and msg.size != size:
                    raise fail(f"UID {uid} has size {size}, the model says {msg.size}")
            empty = not self.h.views[sid].uids  # 1:* names nothing: BAD, as Dovecot says
            if tagged.name != ("BAD" if empty else "OK") and tagged.code != "EXPUNGEISSUED":
                raise fail(f"learning FETCH failed: {tagged.raw!r}")
        return Action("FETCH", lambda t: t.encode() + b" FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n",
                      check)

    def _noop(self) -> Action:
        return Action("NOOP", lambda t: t.encode() + b" NOOP\r\n", status_checker("OK"))

    def _ensure_known(self, sid: str) -> None:
        # a learning FETCH may end with EXISTS for mail that arrived meanwhile: learn again
        for _ in range(3):
            if not (self._selected_ok(sid) and self.h.views[sid].uids
                    and not self._view_known(sid)):
                return
            self._run(sid, [self._learn(sid)])

    def _pick_name(self, data, avoid: str | None = None) -> str:
        """A mailbox name: mostly one that exists (so the command goes deep), any sometimes."""
        existing = [n for n in sorted(self.model.boxes) if n != avoid]
        if existing and data.draw(st.integers(0, 3)):
            return data.draw(st.sampled_from(existing))
        return data.draw(st.sampled_from(NAMES))

    def _selected_ok(self, sid: str) -> bool:
        return self.h.alive(sid) and self._box(sid) is not None

    def _targets(self, sid: str, data, by_uid: bool) -> tuple[bytes, list[int]]:
        """Draw a set the client would send, and the UIDs it names in the client's view."""
        uids = self.h.views[sid].uids
        n = len(uids)
        if by_uid:
            known = [u for u in uids if u is not None]
            top = (known[-1] if known else 0) + 3
            low = data.draw(st.integers(1, max(1, top)))
            high = data.draw(st.none() | st.integers(1, max(1, top)))
            star = known[-1] if known else 0
            hi = star if high is None else high
            lo, hi2 = min(low, hi), max(low, hi)
            text = f"{low}:{'*' if high is None else high}".encode()
            if not known and high is None:
                chosen = []
            else:
                chosen = [u for u in known if lo <= u <= hi2]
            return text, chosen
        if n == 0:
            return b"1", []
        low = data.draw(st.integers(1, n))
        high = data.draw(st.none() | st.integers(1, n))
        hi = n if high is None else high
        text = f"{low}:{'*' if high is None else high}".encode() if low != hi or high is None \
            else str(low).encode()
        return text, [uids[i - 1] for i in range(min(low, hi), max(low, hi) + 1)]


def sel_name(machine: MachineBase, sid: str) -> str:
    sel = machine.selected[sid]
    return sel[0] if sel else "(none)"
