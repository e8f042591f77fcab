"""Connections: a client reconnects or logs out (and comes back)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from fuzz.machine.base import SIDS, Action, MachineBase
from fuzz.machine.checks import fail


class ConnectionRules(MachineBase):
    """RECONNECT and LOGOUT."""

    @precondition(lambda self: any(not self.h.alive(s) for s in SIDS))
    @rule(data=st.data())
    def reconnect(self, data):
        sid = data.draw(st.sampled_from([s for s in SIDS if not self.h.alive(s)]))
        self._connect(sid)

    @rule(sid=st.sampled_from(SIDS))
    def logout(self, sid):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            if not any(r.name == "BYE" for r in untagged) or tagged.name != "OK":
                raise fail("LOGOUT without BYE and OK")
        self._run(sid, [Action("LOGOUT", lambda t: t.encode() + b" LOGOUT\r\n", check)])
        self._ended(sid)
        self._connect(sid)  # and the client comes back, as clients do
