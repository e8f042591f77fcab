"""STORE and UID STORE in the selected state, checked against the model."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.machine.base import FLAG_CHOICES, Action, MachineBase
from fuzz.machine.checks import check_complete, check_status, uid_gone


class StoreRules(MachineBase):
    """``op_store``: drawn by ``in_selected``."""

    def op_store(self, data, sid):
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        mode = data.draw(st.sampled_from(["FLAGS", "+FLAGS", "-FLAGS"]))
        silent = data.draw(st.booleans())
        flags = data.draw(FLAG_CHOICES)
        text, uids = self._targets(sid, data, by_uid)
        hidden = by_uid and None in self.h.views[sid].uids
        empty_seq = not by_uid and not self.h.views[sid].uids
        readonly = self.selected[sid][1]
        item = mode + (".SILENT" if silent else "")

        def wire(t):
            return (t.encode() + (b" UID" if by_uid else b"") + b" STORE " + text + b" "
                    + item.encode() + b" (" + " ".join(sorted(flags)).encode() + b")\r\n")

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if readonly:  # checked before the set, as Dovecot does
                check_status(tagged, "NO")
                return
            if empty_seq:
                check_status(tagged, "BAD")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            self._flags_changing(sid, live)
            for msg in live:
                if mode == "FLAGS":
                    msg.flags = set(flags)
                elif mode == "+FLAGS":
                    msg.flags |= flags
                else:
                    msg.flags -= flags
            if silent:  # the client knows what it set
                view = self.h.views[sid]
                for msg in live:
                    if msg.uid in view.flags:
                        view.flags[msg.uid] = frozenset(msg.flags)
            check_complete(tagged, len(live) == len(uids), hidden or uid_gone(by_uid, live, uids))
        self._run(sid, [Action("STORE", wire, check, by_uid)])
