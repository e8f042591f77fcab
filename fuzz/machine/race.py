"""The COPY race: one session expunges or moves messages away, the other copies them unsynced.

RFC 2180 4.4 and RFC 3501 6.4.7: a COPY or MOVE naming a message another session
expunged since this one's last sync copies nothing and answers ``NO [EXPUNGEISSUED]``.
Drawn at random, the other rules reach that state rarely (both sessions on one
mailbox, all UIDs known, an expunge, then a copy of the same messages before any
sync), so this rule builds it in one step. It checks nothing of its own: the
expunge, move and copy answers are held to the model by the usual checkers.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.machine.base import SIDS, Action, MachineBase
from fuzz.machine.checks import check_complete, check_status, fail, uid_gone
from fuzz.model import expunge_deleted


class RaceRules(MachineBase):
    """``op_race``: drawn by ``in_selected`` (``op_copy`` gives the COPY/MOVE checker)."""

    def op_race(self, data, sid):
        name, readonly = self.selected[sid]
        other = next(s for s in SIDS if s != sid)
        if readonly or not self.h.alive(other):
            return
        if not self.h.views[sid].uids:  # something to race over
            self.append(sid, name, frozenset(), False)
        if self.selected[other] is None or self.selected[other][0] != name \
                or other in self.doomed:
            self._select_for_race(other, name, data.draw(st.booleans()))
        self._ensure_known(other)
        self._ensure_known(sid)
        if not (self._selected_ok(sid) and self._selected_ok(other)) \
                or self.selected[other][0] != name:
            return
        text, uids = self._targets(sid, data, True)
        if data.draw(st.booleans()):
            target = self._pick_name(data, avoid=name)
            self._run(sid, [self._copy_action(sid, True, target, True, text, uids)])
        else:
            self._run(sid, self._expunge_actions(sid, text, uids))
        self._copy_unsynced(data, other, uids)

    def _copy_unsynced(self, data, sid: str, gone: list[int]) -> None:
        """``sid`` (told nothing yet) copies or moves a set covering the UIDs ``gone``."""
        view = self.h.views[sid].uids
        if not gone or None in view:
            return
        lo, hi = min(gone), max(gone)
        span = [i for i, u in enumerate(view, 1) if lo <= u <= hi]
        if not span:
            return
        by_uid = data.draw(st.booleans())
        if by_uid:
            text = f"{lo}:{hi}".encode()
            uids = [u for u in view if lo <= u <= hi]
        else:
            text = f"{span[0]}:{span[-1]}".encode()
            uids = view[span[0] - 1:span[-1]]
        move = data.draw(st.booleans())
        target = self._pick_name(data, avoid=self.selected[sid][0])
        self._run(sid, [self._copy_action(sid, move, target, by_uid, text, uids)])

    def _select_for_race(self, sid: str, name: str, readonly: bool) -> None:
        def check(untagged, tagged):
            self.doomed.discard(sid)
            check_status(tagged, "OK")
            self.selected[sid] = (name, readonly)
            exists = [r.number for r in untagged if r.name == "EXISTS"]
            if exists != [len(self.model.boxes[name].msgs)]:
                raise fail(f"SELECT {name}: EXISTS {exists}, the model has "
                           f"{len(self.model.boxes[name].msgs)}")
        verb = "EXAMINE" if readonly else "SELECT"
        self._run(sid, [Action(verb, lambda t: f"{t} {verb} {name}\r\n".encode(), check),
                        self._learn(sid)])

    def _expunge_actions(self, sid: str, text: bytes, uids: list[int]) -> list[Action]:
        """``UID STORE set +FLAGS.SILENT (\\Deleted)`` then ``UID EXPUNGE set``, pipelined."""
        hidden = None in self.h.views[sid].uids

        def deleted(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            self._flags_changing(sid, live)
            for msg in live:
                msg.flags.add("\\Deleted")
            view = self.h.views[sid]
            for msg in live:
                if msg.uid in view.flags:
                    view.flags[msg.uid] = frozenset(msg.flags)
            check_complete(tagged, len(live) == len(uids), hidden or uid_gone(True, live, uids))

        def expunged(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            check_status(tagged, "OK")
            expunge_deleted(box, uids)
        store = lambda t: f"{t} UID STORE {text.decode()} +FLAGS.SILENT (\\Deleted)\r\n".encode()  # noqa: E731
        return [Action("STORE", store, deleted, True),
                Action("EXPUNGE", lambda t: f"{t} UID EXPUNGE {text.decode()}\r\n".encode(),
                       expunged, True)]
