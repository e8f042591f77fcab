"""COPY, MOVE and their UID forms: COPYUID against the model."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.machine.base import Action, MachineBase
from fuzz.machine.checks import check_complete, check_status, fail
from fuzz.model import new_msg


class CopyMoveRules(MachineBase):
    """``op_copy`` (COPY or MOVE): drawn by ``in_selected``."""

    def op_copy(self, data, sid):
        move = data.draw(st.booleans())
        target = self._pick_name(data, avoid=self.selected[sid][0])
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        text, uids = self._targets(sid, data, by_uid)
        self._run(sid, [self._copy_action(sid, move, target, by_uid, text, uids)])

    def _copy_action(self, sid: str, move: bool, target: str, by_uid: bool, text: bytes,
                     uids: list) -> Action:
        """COPY or MOVE of ``text`` (naming ``uids`` in the client's view now) into ``target``."""
        hidden = by_uid and None in self.h.views[sid].uids
        empty_seq = not by_uid and not self.h.views[sid].uids
        readonly = self.selected[sid][1]
        verb = "MOVE" if move else "COPY"

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if move and readonly:
                check_status(tagged, "NO")
                return
            if empty_seq:
                check_status(tagged, "BAD")
                return
            dest = self.model.boxes.get(target)
            if dest is None:
                check_status(tagged, "NO")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            # a UID set naming a UID gone elsewhere is NO too: the view still holds it
            check_complete(tagged, len(live) == len(uids), hidden)
            codes = [tagged.code_data] if tagged.code == "COPYUID" else [
                r.code_data for r in untagged if r.code == "COPYUID"]
            if tagged.name == "NO":  # all or nothing (RFC 3501 6.4.7, RFC 2180 4.4)
                if tagged.code != "EXPUNGEISSUED" or codes:
                    raise fail(f"{verb} of a gone message must copy nothing and say"
                               f" [EXPUNGEISSUED]: {tagged.raw!r}, COPYUID {codes}")
                return
            if not live:
                return
            if len(codes) != 1:
                raise fail(f"{verb} without one COPYUID: {tagged.raw!r}")
            validity, source, dest_uids = codes[0]
            if sorted(source) != sorted(m.uid for m in live):
                raise fail(f"COPYUID source {source}, expected {[m.uid for m in live]}")
            dest.learn_validity(validity, self.model.prior.get(target, []), "COPYUID")
            copies = [new_msg(box.by_uid(s).fid, set(box.by_uid(s).flags)) for s in source]
            for msg, uid in sorted(zip(copies, dest_uids, strict=False), key=lambda p: p[1]):
                dest.add_uid(msg, uid, verb)
                dest.msgs.append(msg)
            if move:
                for msg in live:
                    box.msgs.remove(msg)
                    box.gone.add(msg.uid)
        wire = lambda t: (t.encode() + (b" UID " if by_uid else b" ") + verb.encode() + b" "  # noqa: E731
                          + text + b" " + target.encode() + b"\r\n")
        return Action(verb, wire, check, by_uid)
