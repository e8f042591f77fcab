"""Mailboxes: CREATE, DELETE, RENAME, SELECT/EXAMINE, STATUS, LIST, (UN)SUBSCRIBE and LSUB."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from fuzz.machine.base import NAMES, SIDS, Action, MachineBase
from fuzz.machine.checks import check_status, fail
from fuzz.model import Box, Msg


class MailboxRules(MachineBase):
    """The mailbox commands of the authenticated state."""

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES))
    def create(self, sid, name):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            exists = name in self.model.boxes
            check_status(tagged, "NO" if exists else "OK")
            if not exists:
                self.model.boxes[name] = Box()
        self._run(sid, [Action("CREATE", lambda t: t.encode() + b" CREATE " + name.encode()
                               + b"\r\n", check)])

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES))
    def delete(self, sid, name):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            sel = self.selected[sid]
            if name == "INBOX" or name not in self.model.boxes or (sel and sel[0] == name):
                check_status(tagged, "NO")
                return
            check_status(tagged, "OK")
            self.model.delete(name)
            for other in SIDS:
                if self.selected[other] and self.selected[other][0] == name:
                    self.doomed.add(other)
        self._run(sid, [Action("DELETE", lambda t: t.encode() + b" DELETE " + name.encode()
                               + b"\r\n", check)])

    @rule(sid=st.sampled_from(SIDS), old=st.sampled_from(NAMES[1:]), new=st.sampled_from(NAMES))
    def rename(self, sid, old, new):
        """RENAME a b: the messages keep their flags; a session on the old name ends."""
        if not self.h.alive(sid):
            return

        def check(untagged, tagged):
            sel = self.selected[sid]
            if (new == "INBOX" or old not in self.model.boxes or new in self.model.boxes
                    or (sel and sel[0] == old)):
                check_status(tagged, "NO")
                return
            check_status(tagged, "OK")
            box = self.model.boxes[old]
            self.model.delete(old)
            # the UIDs may be kept (same UIDVALIDITY) or not: learnt again by size
            self.model.boxes[new] = Box(msgs=[
                Msg(m.fid, None, set(m.flags), delivered=True) for m in box.msgs], renamed=True)
            for other in SIDS:
                if self.selected[other] and self.selected[other][0] == old:
                    self.doomed.add(other)
        self._run(sid, [Action("RENAME", lambda t: f"{t} RENAME {old} {new}\r\n".encode(),
                               check)])

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES),
          what=st.sampled_from(["status", "list", "subscribe", "unsubscribe"]))
    def query(self, sid, name, what):
        """STATUS, LIST or (UN)SUBSCRIBE then LSUB: one rule, so they do not crowd out
        the selected state's commands."""
        if what == "status":
            self.status(sid, name)
        elif what == "list":
            self.list_all(sid)
        else:
            self.subscribe(sid, name, what == "subscribe")

    def subscribe(self, sid, name, on):
        """SUBSCRIBE/UNSUBSCRIBE, then LSUB: what LSUB lists follows the subscriptions."""
        if not self.h.alive(sid):
            return
        verb = "SUBSCRIBE" if on else "UNSUBSCRIBE"

        def check(untagged, tagged):
            if tagged.name == "OK":
                (self.model.subscribed.add if on else self.model.subscribed.discard)(name)
            elif not (tagged.name == "NO" and (name not in self.model.boxes or not on)):
                raise fail(f"{verb} {name}: {tagged.raw!r}")

        def lsub(untagged, tagged):
            check_status(tagged, "OK")
            names = {r.data[2].decode() for r in untagged if r.name == "LSUB"}
            must = self.model.subscribed & set(self.model.boxes)
            if not must <= names <= self.model.subscribed:
                raise fail(f"LSUB shows {sorted(names)}; subscribed "
                           f"{sorted(self.model.subscribed)}, existing {sorted(self.model.boxes)}")
        self._run(sid, [Action(verb, lambda t: f"{t} {verb} {name}\r\n".encode(), check),
                        Action("LSUB", lambda t: f'{t} LSUB "" *\r\n'.encode(), lsub)])


    @rule(sid=st.sampled_from(SIDS), data=st.data(), readonly=st.booleans())
    def select(self, sid, data, readonly):
        if not self.h.alive(sid):
            return
        name = self._pick_name(data)
        verb = b"EXAMINE" if readonly else b"SELECT"
        def check(untagged, tagged):
            self.doomed.discard(sid)
            box = self.model.boxes.get(name)
            if box is None:
                check_status(tagged, "NO")
                self.selected[sid] = None
                return
            check_status(tagged, "OK")
            self.selected[sid] = (name, readonly)
            exists = [r.number for r in untagged if r.name == "EXISTS"]
            if exists != [len(box.msgs)]:
                raise fail(f"SELECT {name}: EXISTS {exists}, the model has {len(box.msgs)}")
            codes = {r.code: r.code_data for r in untagged if r.code}
            box.learn_validity(codes["UIDVALIDITY"], self.model.prior.get(name, []), "SELECT")
            if codes["UIDNEXT"] <= box.max_uid:
                raise fail(f"UIDNEXT {codes['UIDNEXT']} is not above UID {box.max_uid}")
        actions = [Action(verb.decode(), lambda t: t.encode() + b" " + verb + b" "
                          + name.encode() + b"\r\n", check), self._learn(sid)]
        self._run(sid, actions)

    def status(self, sid, name):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            box = self.model.boxes.get(name)
            if box is None:
                check_status(tagged, "NO")
                return
            check_status(tagged, "OK")
            (items,) = [r.data[1] for r in untagged if r.name == "STATUS"]
            if items["MESSAGES"] != len(box.msgs):
                raise fail(f"STATUS {name} MESSAGES {items['MESSAGES']}, model {len(box.msgs)}")
            unseen = sum(1 for m in box.msgs if "\\Seen" not in m.flags)
            if items["UNSEEN"] != unseen:
                raise fail(f"STATUS {name} UNSEEN {items['UNSEEN']}, model {unseen}")
            if items["UIDNEXT"] <= box.max_uid:
                raise fail(f"STATUS {name} UIDNEXT {items['UIDNEXT']} not above {box.max_uid}")
            box.learn_validity(items["UIDVALIDITY"], self.model.prior.get(name, []), "STATUS")
        self._run(sid, [Action("STATUS", lambda t: t.encode() + b" STATUS " + name.encode()
                               + b" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\n", check)])

    def list_all(self, sid):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            check_status(tagged, "OK")
            names = sorted(r.data[2].decode() for r in untagged if r.name == "LIST")
            if names != sorted(self.model.boxes):
                raise fail(f"LIST shows {names}, the model has {sorted(self.model.boxes)}")
        self._run(sid, [Action("LIST", lambda t: t.encode() + b' LIST "" *\r\n', check)])
