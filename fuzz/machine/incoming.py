"""Messages in: mail waiting at the start, APPEND, and delivery into new/ from outside."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from fuzz.machine.base import FLAG_CHOICES, NAMES, SIDS, Action, MachineBase
from fuzz.machine.checks import check_status, fail
from fuzz.model import message_bytes, new_msg


class IncomingRules(MachineBase):
    """Mail that arrives: by APPEND or from outside."""

    @initialize(count=st.integers(0, 3))
    def initial_mail(self, count):
        """Mail already waiting in INBOX before the sessions do anything."""
        for _ in range(count):
            self.deliver("INBOX")

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES), flags=FLAG_CHOICES,
          plus=st.booleans())
    def append(self, sid, name, flags, plus):
        if not self.h.alive(sid):
            return
        fid = self.model.new_fid()
        data = message_bytes(fid)
        flag_text = " ".join(sorted(flags)).encode()

        def wire(t):
            return (t.encode() + b" APPEND " + name.encode() + b" (" + flag_text + b") {%d%s}\r\n"
                    % (len(data), b"+" if plus else b"") + data + b"\r\n")

        def check(untagged, tagged):
            box = self.model.boxes.get(name)
            if box is None:
                check_status(tagged, "NO")
                return
            check_status(tagged, "OK")
            if tagged.code != "APPENDUID":
                raise fail(f"APPEND without APPENDUID: {tagged.raw!r}")
            validity, (uid,) = tagged.code_data
            box.learn_validity(validity, self.model.prior.get(name, []), "APPENDUID")
            msg = new_msg(fid, set(flags))
            box.add_uid(msg, uid, "APPEND")
            box.msgs.append(msg)
        self._run(sid, [Action("APPEND", wire, check)])

    @rule(name=st.sampled_from(NAMES))
    def deliver(self, name):
        box = self.model.boxes.get(name)
        if box is None:
            return
        fid = self.model.new_fid()
        floor = max([box.max_uid] + [m.floor for m in box.msgs if m.uid is None])
        self.h.deliver(name, message_bytes(fid).replace(b"\r\n", b"\n"))
        msg = new_msg(fid, set(), floor=floor)
        msg.delivered = True
        box.msgs.append(msg)
