"""EXPUNGE, UID EXPUNGE, CLOSE and UNSELECT: leaving messages or the mailbox."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.machine.base import Action, MachineBase
from fuzz.machine.checks import check_status, fail
from fuzz.model import expunge_deleted


class ExpungeRules(MachineBase):
    """``op_expunge`` and ``op_close``: drawn by ``in_selected``."""

    def op_expunge(self, data, sid):
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        text, uids = self._targets(sid, data, True) if by_uid else (b"", None)
        readonly = self.selected[sid][1]

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if readonly:
                check_status(tagged, "NO")
                return
            check_status(tagged, "OK")
            expunge_deleted(box, uids)
        wire = lambda t: (t.encode() + (b" UID EXPUNGE " + text if by_uid else b" EXPUNGE")  # noqa: E731
                          + b"\r\n")
        self._run(sid, [Action("EXPUNGE", wire, check, by_uid)])

    def op_close(self, data, sid):
        close = data.draw(st.booleans())
        readonly = self.selected[sid][1]

        def check(untagged, tagged):
            check_status(tagged, "OK")
            box = self._box(sid)
            if close and box is not None and not readonly:
                expunge_deleted(box, None)
            if any(r.name == "EXPUNGE" for r in untagged) and close:
                raise fail("CLOSE sent EXPUNGE responses")
            self.selected[sid] = None
        verb = b"CLOSE" if close else b"UNSELECT"
        self._run(sid, [Action(verb.decode(), lambda t: t.encode() + b" " + verb + b"\r\n", check)])
