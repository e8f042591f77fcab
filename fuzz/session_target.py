"""The session target: a Hypothesis state machine of two clients and a mail delivery agent.

Two sessions, A and B, work on one maildir while messages arrive in ``new/``
from outside. Every rule sends real IMAP (sometimes several commands pipelined
in one chunk, sometimes garbage followed by a sync NOOP); the harness checks
what holds for any response, and each rule's checker holds the answers to the
model in ``fuzz/model.py``: EXISTS and SELECT counts, UIDs from APPENDUID and
COPYUID, FETCH flags and sizes, SEARCH results, STATUS counts, LIST names.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fuzz import strategies as fst
from fuzz.harness import FuzzFailure, Harness, Sent
from fuzz.model import KEYWORDS, SYSTEM, Box, Model, Msg, message_bytes
from fuzz.wire import Encoder
from imapsession.protocol.command import Command

SIDS = ("A", "B")
NAMES = ("INBOX", "a", "b", "c")
FLAG_CHOICES = st.frozensets(st.sampled_from(SYSTEM + KEYWORDS), max_size=3)
SAFE_VERBS = (b"SEARCH", b"LOGIN", b"STATUS", b"FETCH 1 BODY.PEEK[HEADER.FIELDS", b"ID (",
              b"UID SEARCH TEXT", b"LSUB \"\"", b"ENABLE")

LAST: list[SessionMachine] = []  # the runner reads the last machine's transcript


@attrs.define
class Action:
    """One command: its bytes for a tag, and a checker run on (untagged, tagged)."""

    name: str
    wire: Callable[[str], bytes]
    check: Callable[[list, object], None]
    uid: bool = False


def _fail(text: str) -> FuzzFailure:
    return FuzzFailure(text)


class SessionMachine(RuleBasedStateMachine):
    transport = "session"
    session_factory = None

    def __init__(self):
        super().__init__()
        LAST[:] = [self]
        self.h = Harness(self.transport, self.session_factory)
        self.model = Model()
        self.tags = itertools.count(1)
        self.enc = Encoder(random.Random(0))
        self.selected: dict[str, tuple[str, bool] | None] = {}
        self.doomed: set[str] = set()
        for sid in SIDS:
            self._connect(sid)

    def teardown(self):
        self.h.close()

    # --- plumbing ----------------------------------------------------------------------

    def _connect(self, sid: str) -> None:
        self.h.open(sid)
        self.selected[sid] = None
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

    def _check_cache(self, sid: str) -> None:
        """After every completion, what the client was told of flags is the truth."""
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
                    raise _fail(f"session {sid} shows UID {uid}, which {sel_name(self, sid)} "
                                "never had")
                continue
            told = view.flags.get(uid)
            if told is not None and told != frozenset(msg.flags):
                raise _fail(f"session {sid}: UID {uid} flags {sorted(told)} but the model "
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
                    raise _fail(f"UID {uid} has size {size}, the model says {msg.size}")
            empty = not self.h.views[sid].uids  # 1:* names nothing: BAD, as Dovecot says
            if tagged.name != ("BAD" if empty else "OK") and tagged.code != "EXPUNGEISSUED":
                raise _fail(f"learning FETCH failed: {tagged.raw!r}")
        return Action("FETCH", lambda t: t.encode() + b" FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n",
                      check)

    def _noop(self) -> Action:
        return Action("NOOP", lambda t: t.encode() + b" NOOP\r\n", _expect("OK"))

    def _ensure_known(self, sid: str) -> None:
        # a learning FETCH may end with EXISTS for mail that arrived meanwhile: learn again
        for _ in range(3):
            if not (self._selected_ok(sid) and self.h.views[sid].uids
                    and not self._view_known(sid)):
                return
            self._run(sid, [self._learn(sid)])

    # --- connections --------------------------------------------------------------------

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
                raise _fail("LOGOUT without BYE and OK")
        self._run(sid, [Action("LOGOUT", lambda t: t.encode() + b" LOGOUT\r\n", check)])
        self._ended(sid)
        self._connect(sid)  # and the client comes back, as clients do

    # --- mailboxes ------------------------------------------------------------------------

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES))
    def create(self, sid, name):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            exists = name in self.model.boxes
            _status(tagged, "NO" if exists else "OK")
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
                _status(tagged, "NO")
                return
            _status(tagged, "OK")
            self.model.delete(name)
            for other in SIDS:
                if self.selected[other] and self.selected[other][0] == name:
                    self.doomed.add(other)
        self._run(sid, [Action("DELETE", lambda t: t.encode() + b" DELETE " + name.encode()
                               + b"\r\n", check)])

    def _pick_name(self, data, avoid: str | None = None) -> str:
        """A mailbox name: mostly one that exists (so the command goes deep), any sometimes."""
        existing = [n for n in sorted(self.model.boxes) if n != avoid]
        if existing and data.draw(st.integers(0, 3)):
            return data.draw(st.sampled_from(existing))
        return data.draw(st.sampled_from(NAMES))

    @initialize(count=st.integers(0, 3))
    def initial_mail(self, count):
        """Mail already waiting in INBOX before the sessions do anything."""
        for _ in range(count):
            self.deliver("INBOX")

    @rule(sid=st.sampled_from(SIDS), old=st.sampled_from(NAMES[1:]), new=st.sampled_from(NAMES))
    def rename(self, sid, old, new):
        """RENAME a b: the messages keep their flags; a session on the old name ends."""
        if not self.h.alive(sid):
            return

        def check(untagged, tagged):
            sel = self.selected[sid]
            if (new == "INBOX" or old not in self.model.boxes or new in self.model.boxes
                    or (sel and sel[0] == old)):
                _status(tagged, "NO")
                return
            _status(tagged, "OK")
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
                raise _fail(f"{verb} {name}: {tagged.raw!r}")

        def lsub(untagged, tagged):
            _status(tagged, "OK")
            names = {r.data[2].decode() for r in untagged if r.name == "LSUB"}
            must = self.model.subscribed & set(self.model.boxes)
            if not must <= names <= self.model.subscribed:
                raise _fail(f"LSUB shows {sorted(names)}; subscribed "
                            f"{sorted(self.model.subscribed)}, existing {sorted(self.model.boxes)}")
        self._run(sid, [Action(verb, lambda t: f"{t} {verb} {name}\r\n".encode(), check),
                        Action("LSUB", lambda t: f'{t} LSUB "" *\r\n'.encode(), lsub)])

    @rule(sid=st.sampled_from(SIDS), data=st.data())
    def wrong_state(self, sid, data):
        """A command the current state does not accept: BAD, and nothing changes."""
        if not self.h.alive(sid):
            return
        selected = self.selected[sid] is not None
        choices = [b"LOGIN user pass", b"AUTHENTICATE PLAIN", b"STARTTLS"]
        if not selected:
            choices += [b"FETCH 1 FLAGS", b"STORE 1 +FLAGS (\\Seen)", b"SEARCH ALL",
                        b"COPY 1 INBOX", b"MOVE 1 INBOX", b"EXPUNGE", b"UID EXPUNGE 1",
                        b"CLOSE", b"UNSELECT", b"CHECK", b"UID FETCH 1:* UID"]
        line = data.draw(st.sampled_from(choices))

        def check(untagged, tagged):
            if tagged.name != "BAD" and not (line == b"STARTTLS" and tagged.name == "NO"):
                raise _fail(f"{line!r} in the wrong state answered {tagged.raw!r}")
        self._run(sid, [Action(line.split(b" ")[0].decode(),
                               lambda t: t.encode() + b" " + line + b"\r\n", check)],
                  current=False)

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
                _status(tagged, "NO")
                self.selected[sid] = None
                return
            _status(tagged, "OK")
            self.selected[sid] = (name, readonly)
            exists = [r.number for r in untagged if r.name == "EXISTS"]
            if exists != [len(box.msgs)]:
                raise _fail(f"SELECT {name}: EXISTS {exists}, the model has {len(box.msgs)}")
            codes = {r.code: r.code_data for r in untagged if r.code}
            box.learn_validity(codes["UIDVALIDITY"], self.model.prior.get(name, []), "SELECT")
            if codes["UIDNEXT"] <= box.max_uid:
                raise _fail(f"UIDNEXT {codes['UIDNEXT']} is not above UID {box.max_uid}")
        actions = [Action(verb.decode(), lambda t: t.encode() + b" " + verb + b" "
                          + name.encode() + b"\r\n", check), self._learn(sid)]
        self._run(sid, actions)

    def status(self, sid, name):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            box = self.model.boxes.get(name)
            if box is None:
                _status(tagged, "NO")
                return
            _status(tagged, "OK")
            (items,) = [r.data[1] for r in untagged if r.name == "STATUS"]
            if items["MESSAGES"] != len(box.msgs):
                raise _fail(f"STATUS {name} MESSAGES {items['MESSAGES']}, model {len(box.msgs)}")
            unseen = sum(1 for m in box.msgs if "\\Seen" not in m.flags)
            if items["UNSEEN"] != unseen:
                raise _fail(f"STATUS {name} UNSEEN {items['UNSEEN']}, model {unseen}")
            if items["UIDNEXT"] <= box.max_uid:
                raise _fail(f"STATUS {name} UIDNEXT {items['UIDNEXT']} not above {box.max_uid}")
            box.learn_validity(items["UIDVALIDITY"], self.model.prior.get(name, []), "STATUS")
        self._run(sid, [Action("STATUS", lambda t: t.encode() + b" STATUS " + name.encode()
                               + b" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\n", check)])

    def list_all(self, sid):
        if not self.h.alive(sid):
            return
        def check(untagged, tagged):
            _status(tagged, "OK")
            names = sorted(r.data[2].decode() for r in untagged if r.name == "LIST")
            if names != sorted(self.model.boxes):
                raise _fail(f"LIST shows {names}, the model has {sorted(self.model.boxes)}")
        self._run(sid, [Action("LIST", lambda t: t.encode() + b' LIST "" *\r\n', check)])

    # --- messages in ------------------------------------------------------------------------

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
                _status(tagged, "NO")
                return
            _status(tagged, "OK")
            if tagged.code != "APPENDUID":
                raise _fail(f"APPEND without APPENDUID: {tagged.raw!r}")
            validity, (uid,) = tagged.code_data
            box.learn_validity(validity, self.model.prior.get(name, []), "APPENDUID")
            msg = _new_msg(fid, set(flags))
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
        msg = _new_msg(fid, set(), floor=floor)
        msg.delivered = True
        box.msgs.append(msg)

    # --- the selected mailbox -----------------------------------------------------------------

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
                _status(tagged, "NO")
                return
            if empty_seq:
                _status(tagged, "BAD")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
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
            _complete(tagged, len(live) == len(uids), hidden or _uid_gone(by_uid, live, uids))
        self._run(sid, [Action("STORE", wire, check, by_uid)])

    def op_fetch(self, data, sid):
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        item = data.draw(st.sampled_from(["BODY[]", "BODY.PEEK[]", "RFC822", "FLAGS",
                                          "RFC822.SIZE", "INTERNALDATE", *MIME_ITEMS]))
        text, uids = self._targets(sid, data, by_uid)
        hidden = by_uid and None in self.h.views[sid].uids
        empty_seq = not by_uid and not self.h.views[sid].uids
        readonly = self.selected[sid][1]

        def wire(t):
            return (t.encode() + (b" UID" if by_uid else b"") + b" FETCH " + text + b" (UID "
                    + item.encode() + b")\r\n")

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if empty_seq:
                _status(tagged, "BAD")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            if item in ("BODY[]", "RFC822", "BODY[TEXT]") and not readonly:
                for msg in live:
                    msg.flags.add("\\Seen")
            got = {}
            for r in untagged:
                if r.name == "FETCH":
                    key = _answer_key(item, r.data)
                    if key is not None:
                        got[r.data["UID"]] = r.data[key]
            # a message expunged elsewhere but still in this view may still be answered
            # (RFC 2180 4.1.1), but only one of those named
            extra = set(got) - {m.uid for m in live}
            if not {m.uid for m in live} <= set(got) or not extra <= (set(uids) & box.gone):
                raise _fail(f"FETCH {text!r} answered UIDs {sorted(got)}, expected "
                            f"{sorted(m.uid for m in live)}")
            for msg in live:
                value = got[msg.uid]
                if item in ("BODY[]", "BODY.PEEK[]", "RFC822") and value != message_bytes(msg.fid):
                    raise _fail(f"UID {msg.uid}: body differs from what was stored")
                if item == "RFC822.SIZE" and value != msg.size:
                    raise _fail(f"UID {msg.uid}: RFC822.SIZE {value}, expected {msg.size}")
                if item in MIME_ITEMS:
                    _check_mime(item, msg.fid, value)
            _complete(tagged, len(live) == len(uids), hidden or _uid_gone(by_uid, live, uids) or bool(extra))
        self._run(sid, [Action("FETCH", wire, check, by_uid)])

    def op_search(self, data, sid):
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        key = data.draw(_model_search_keys)

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            view = self.h.views[sid]
            _status(tagged, "OK")
            (found,) = [r.data for r in untagged if r.name == "SEARCH"]
            expected = []
            unannounced = set()  # expunged elsewhere, not yet announced to this session:
            for seq, uid in enumerate(view.uids, 1):  # RFC 2180 4.3 lets them match or not
                msg = box.by_uid(uid)
                if msg is None:
                    unannounced.add(uid if by_uid else seq)
                elif _eval(key, msg, seq, view.uids):
                    expected.append(uid if by_uid else seq)
            if sorted(set(found) - unannounced) != expected:
                raise _fail(f"SEARCH {_key_text(key)} found {found}, expected {expected}"
                            f" (and maybe some of {sorted(unannounced)})")
        wire = lambda t: (t.encode() + (b" UID" if by_uid else b"") + b" SEARCH "  # noqa: E731
                          + _key_text(key).encode() + b"\r\n")
        self._run(sid, [Action("SEARCH", wire, check, by_uid)])

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
                _status(tagged, "NO")
                return
            _status(tagged, "OK")
            _expunge_deleted(box, uids)
        wire = lambda t: (t.encode() + (b" UID EXPUNGE " + text if by_uid else b" EXPUNGE")  # noqa: E731
                          + b"\r\n")
        self._run(sid, [Action("EXPUNGE", wire, check, by_uid)])

    def op_copy(self, data, sid):
        move = data.draw(st.booleans())
        target = self._pick_name(data, avoid=self.selected[sid][0])
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        text, uids = self._targets(sid, data, by_uid)
        hidden = by_uid and None in self.h.views[sid].uids
        empty_seq = not by_uid and not self.h.views[sid].uids
        readonly = self.selected[sid][1]
        verb = "MOVE" if move else "COPY"

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if move and readonly:
                _status(tagged, "NO")
                return
            if empty_seq:
                _status(tagged, "BAD")
                return
            dest = self.model.boxes.get(target)
            if dest is None:
                _status(tagged, "NO")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            _complete(tagged, len(live) == len(uids), hidden or _uid_gone(by_uid, live, uids))
            if not live:
                return
            codes = [tagged.code_data] if tagged.code == "COPYUID" else [
                r.code_data for r in untagged if r.code == "COPYUID"]
            if len(codes) != 1:
                raise _fail(f"{verb} without one COPYUID: {tagged.raw!r}")
            validity, source, dest_uids = codes[0]
            if sorted(source) != sorted(m.uid for m in live):
                raise _fail(f"COPYUID source {source}, expected {[m.uid for m in live]}")
            dest.learn_validity(validity, self.model.prior.get(target, []), "COPYUID")
            copies = [_new_msg(box.by_uid(s).fid, set(box.by_uid(s).flags)) for s in source]
            for msg, uid in sorted(zip(copies, dest_uids, strict=False), key=lambda p: p[1]):
                dest.add_uid(msg, uid, verb)
                dest.msgs.append(msg)
            if move:
                for msg in live:
                    box.msgs.remove(msg)
                    box.gone.add(msg.uid)
        wire = lambda t: (t.encode() + (b" UID " if by_uid else b" ") + verb.encode() + b" "  # noqa: E731
                          + text + b" " + target.encode() + b"\r\n")
        self._run(sid, [Action(verb, wire, check, by_uid)])

    def op_close(self, data, sid):
        close = data.draw(st.booleans())
        readonly = self.selected[sid][1]

        def check(untagged, tagged):
            _status(tagged, "OK")
            box = self._box(sid)
            if close and box is not None and not readonly:
                _expunge_deleted(box, None)
            if any(r.name == "EXPUNGE" for r in untagged) and close:
                raise _fail("CLOSE sent EXPUNGE responses")
            self.selected[sid] = None
        verb = b"CLOSE" if close else b"UNSELECT"
        self._run(sid, [Action(verb.decode(), lambda t: t.encode() + b" " + verb + b"\r\n", check)])

    def op_check_view(self, data, sid):
        """NOOP, then FETCH everything: the client's view must be the mailbox exactly."""
        self._run(sid, [self._noop(), self._learn(sid)])
        box = self._box(sid)
        if box is None:
            return
        view = self.h.views[sid]
        if view.uids != box.known_uids() or len(view.uids) != len(box.msgs):
            raise _fail(f"after NOOP session {sid} sees UIDs {view.uids}, the mailbox has "
                        f"{box.known_uids()} of {len(box.msgs)} messages")
        for msg in box.msgs:
            if view.flags.get(msg.uid) != frozenset(msg.flags):
                raise _fail(f"UID {msg.uid}: client told {view.flags.get(msg.uid)}, "
                            f"model {sorted(msg.flags)}")

    @precondition(lambda self: any(self._selected_ok(s) for s in SIDS))
    @rule(data=st.data())
    def in_selected(self, data):
        """A command of the selected state (weighted: see SELECTED_OPS)."""
        sid = data.draw(st.sampled_from([s for s in SIDS if self._selected_ok(s)]))
        op = data.draw(st.sampled_from(SELECTED_OPS))
        getattr(self, "op_" + op)(data, sid)

    # --- protocol edges --------------------------------------------------------------------

    @rule(sid=st.sampled_from(SIDS), data=st.data())
    def harmless(self, sid, data):
        """Commands that change nothing, pipelined 1-4 in one chunk."""
        if not self.h.alive(sid):
            return
        picks = data.draw(st.lists(st.sampled_from([
            b"NOOP", b"CAPABILITY", b'ID ("name" "fuzz")', b"ID NIL", b"NAMESPACE",
            b"ENABLE CONDSTORE", b'LSUB "" *', b'LIST "" ""', b"CHECK",
            b"SEARCH ALL", b"FETCH 1:* (FLAGS UID)", b"UID FETCH 1:* (RFC822.SIZE)",
        ]), min_size=1, max_size=4))
        actions = []
        for pick in picks:
            name = pick.split(b" ")[0].decode()
            uid = name == "UID"
            if uid:
                name = pick.split(b" ")[1].decode()
            actions.append(Action(name, lambda t, p=pick: t.encode() + b" " + p + b"\r\n",
                                  _any_status, uid))
        self._run(sid, actions)

    @rule(sid=st.sampled_from(SIDS), data=st.data())
    def broken(self, sid, data):
        """Malformed input, then a sync NOOP that must be answered."""
        if not self.h.alive(sid):
            return
        chunk = data.draw(session_garbage())
        tag = f"sync{next(self.tags):06d}"
        results = self.h.exchange(sid, chunk + tag.encode() + b" NOOP\r\n",
                                  [Sent(tag, "NOOP")], broken=True)
        if not self.h.alive(sid):
            self._ended(sid)
            return
        for sent, _untagged, tagged in results:
            if sent is not None and tagged.name != "OK":
                raise _fail(f"sync NOOP after garbage answered {tagged.raw!r}")
        self._check_cache(sid)

    @rule(sid=st.sampled_from(SIDS), name=st.sampled_from(NAMES),
          how=st.sampled_from(["deliver", "at_once", "at_once_then_noop"]))
    def idle(self, sid, name, how):
        """IDLE while mail arrives from outside, then DONE; or IDLE and DONE in one write."""
        if not self.h.alive(sid):
            return
        if how != "deliver":
            self._idle_done_at_once(sid, how == "at_once_then_noop")
            return
        tag = self._tag(sid)
        self.h.exchange(sid, tag.encode() + b" IDLE\r\n", [Sent(tag, "IDLE")],
                        until_continuation=True)
        if not self.h.alive(sid):
            self._ended(sid)
            return
        self.deliver(name)
        results = self.h.exchange(sid, b"DONE\r\n", [Sent(tag, "IDLE")])
        for sent, _u, tagged in results:
            if sent is not None:
                _status(tagged, "OK")
        self._check_cache(sid)

    def _idle_done_at_once(self, sid, then_noop):
        """IDLE and DONE (and maybe the next command) in one write."""
        tag = self._tag(sid)
        sent = [Sent(tag, "IDLE")]
        data = tag.encode() + b" IDLE\r\nDONE\r\n"
        if then_noop:
            noop = self._tag(sid)
            sent.append(Sent(noop, "NOOP"))
            data += noop.encode() + b" NOOP\r\n"
        results = self.h.exchange(sid, data, sent)
        if not self.h.alive(sid):
            self._ended(sid)
            return
        for got, _u, tagged in results:
            if got is not None:
                _status(tagged, "OK")
        self._check_cache(sid)

    @invariant()
    def uids_ascend(self):
        for box in self.model.boxes.values():
            known = [m.uid for m in box.msgs if m.uid is not None]
            if len(set(known)) != len(known):
                raise _fail(f"duplicate UIDs in one mailbox: {sorted(known)}")


# Rule weights. Hypothesis draws every enabled rule equally often; a rule listed
# under n names is drawn n times as often (its printed name stays the same). Most of
# what can go wrong needs a selected mailbox, so SELECT and the commands of the
# selected state (one rule, ``in_selected``, that draws one of SELECTED_OPS) weigh
# more than the rest. Each extra name costs Hypothesis time on every step, so the
# selected state's own weights are a list to draw from instead.
WEIGHTS = {"select": 3, "in_selected": 8, "create": 2}
SELECTED_OPS = (["store"] * 4 + ["fetch"] * 4 + ["copy"] * 4 + ["search"] * 3
                + ["expunge"] * 3 + ["check_view"] * 3 + ["close"])


def weigh(machine: type[RuleBasedStateMachine], weights: dict[str, int]) -> None:
    for name, weight in weights.items():
        for n in range(2, weight + 1):
            setattr(machine, f"{name}_weight{n}", getattr(machine, name))


weigh(SessionMachine, WEIGHTS)


def sel_name(machine: SessionMachine, sid: str) -> str:
    sel = machine.selected[sid]
    return sel[0] if sel else "(none)"


def _new_msg(fid: int, flags: set[str], floor: int = 0):
    from fuzz.model import Msg

    return Msg(fid, None, flags, floor)


def _expunge_deleted(box: Box, uids: list[int] | None) -> None:
    for msg in list(box.msgs):
        if "\\Deleted" in msg.flags and (uids is None or msg.uid in uids):
            box.msgs.remove(msg)
            if msg.uid is not None:
                box.gone.add(msg.uid)


def _uid_gone(by_uid: bool, live: list, uids: list) -> bool:
    """A UID command naming a UID expunged elsewhere: OK (nothing there) or NO, either."""
    return by_uid and len(live) != len(uids)


def _complete(tagged, all_live: bool, hidden: bool) -> None:
    """OK when every message named still exists, else NO [EXPUNGEISSUED] (as Dovecot).

    ``hidden``: the view holds a message expunged elsewhere whose UID the client
    never learnt (no FETCH may reveal it now); a UID set may name it, so either.
    """
    if hidden and tagged.name in ("OK", "NO"):
        return
    _status(tagged, "OK" if all_live else "NO")


def _status(tagged, expected: str) -> None:
    if tagged.name != expected:
        raise _fail(f"expected {expected}, got {tagged.raw!r}")


def _expect(status: str):
    def check(untagged, tagged):
        _status(tagged, status)
    return check


def _any_status(untagged, tagged) -> None:
    if tagged.name == "BAD" and b"Invalid messageset" not in tagged.raw \
            and b"needs a selected mailbox" not in tagged.raw:
        raise _fail(f"a valid command was refused: {tagged.raw!r}")


# --- search keys the model can evaluate -------------------------------------------------

_FLAG_KEYS = {"ANSWERED": "\\Answered", "DELETED": "\\Deleted", "DRAFT": "\\Draft",
              "FLAGGED": "\\Flagged", "SEEN": "\\Seen"}
_leaf = st.one_of(
    st.sampled_from(["ALL"] + list(_FLAG_KEYS) + ["UN" + k for k in _FLAG_KEYS]).map(
        lambda k: (k,)),
    st.sampled_from(KEYWORDS).flatmap(
        lambda k: st.sampled_from([("KEYWORD", k), ("UNKEYWORD", k)])),
    st.tuples(st.sampled_from(["LARGER", "SMALLER"]), st.integers(290, 340)),
    st.tuples(st.just("UID"), st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just("SEQ"), st.integers(1, 8), st.integers(1, 8)),
    # the text keys (RFC 3501: case-insensitive substring) against what message_bytes writes
    st.tuples(st.sampled_from(["SUBJECT", "TEXT", "BODY"]),
              st.sampled_from(["word0", "WORD1", "word2", "message", "body", "Fuzz", "xxxx",
                               "nothing"])),
    st.tuples(st.just("HEADER"), st.sampled_from(["X-Fuzz-Id", "Subject", "To", "Cc"]),
              st.sampled_from(["1", "2", "word", "", "example"])),
    st.tuples(st.sampled_from(["FROM", "TO"]), st.sampled_from(["fuzz", "you@", "nobody"])),
)
_model_search_keys = st.recursive(_leaf, lambda inner: st.one_of(
    st.tuples(st.just("NOT"), inner), st.tuples(st.just("OR"), inner, inner),
    st.tuples(st.just("AND"), inner, inner)), max_leaves=5)


def _key_text(key: tuple) -> str:
    name = key[0]
    if name in ("NOT",):
        return "NOT " + _key_text(key[1])
    if name == "OR":
        return f"OR {_key_text(key[1])} {_key_text(key[2])}"
    if name == "AND":
        return f"({_key_text(key[1])} {_key_text(key[2])})"
    if name == "UID":
        return f"UID {key[1]}:{key[2]}"
    if name == "HEADER":
        return f'HEADER {key[1]} "{key[2]}"'
    if name in _TEXT_KEYS:
        return f'{name} "{key[1]}"'

    if name == "SEQ":
        return f"{key[1]}:{key[2]}"
    if len(key) == 2:
        return f"{name} {key[1]}"
    return name


def _eval(key: tuple, msg, seq: int, uids: list) -> bool:
    name = key[0]
    if name == "NOT":
        return not _eval(key[1], msg, seq, uids)
    if name == "OR":
        return _eval(key[1], msg, seq, uids) or _eval(key[2], msg, seq, uids)
    if name == "AND":
        return _eval(key[1], msg, seq, uids) and _eval(key[2], msg, seq, uids)
    if name == "ALL":
        return True
    if name in _FLAG_KEYS:
        return _FLAG_KEYS[name] in msg.flags
    if name.startswith("UN") and name[2:] in _FLAG_KEYS:
        return _FLAG_KEYS[name[2:]] not in msg.flags
    if name == "KEYWORD":
        return key[1] in msg.flags
    if name == "UNKEYWORD":
        return key[1] not in msg.flags
    if name == "LARGER":
        return msg.size > key[1]
    if name == "SMALLER":
        return msg.size < key[1]
    if name == "UID":
        return min(key[1], key[2]) <= msg.uid <= max(key[1], key[2])
    if name == "SEQ":
        return min(key[1], key[2]) <= seq <= max(key[1], key[2])
    if name in _TEXT_KEYS or name == "HEADER":
        head, _, body = message_bytes(msg.fid).partition(b"\r\n\r\n")
        needle = key[-1].lower().encode()
        if name == "BODY":
            return needle in body.lower()
        if name == "TEXT":
            return needle in message_bytes(msg.fid).lower()
        field = {"SUBJECT": "subject", "FROM": "from", "TO": "to"}.get(name) or key[1].lower()
        values = [line.split(b":", 1)[1].strip().lower() for line in head.split(b"\r\n")
                  if line.split(b":", 1)[0].lower() == field.encode()]
        return any(needle in v for v in values)
    raise AssertionError(name)


_TEXT_KEYS = ("SUBJECT", "TEXT", "BODY", "FROM", "TO")

# FETCH items that need the MIME parser, and what each must answer for message fid
MIME_ITEMS = ("ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY.PEEK[HEADER]", "BODY[TEXT]",
              "BODY.PEEK[1]", "BODY.PEEK[HEADER.FIELDS (SUBJECT X-FUZZ-ID)]",
              "BODY.PEEK[]<10.20>")


def _answer_key(item: str, answer: dict) -> str | None:
    """The key of ``item``'s value in a parsed FETCH answer (sections echo as sent)."""
    want = item.replace(".PEEK", "")
    if want in answer:
        return want
    if want.startswith("BODY[HEADER.FIELDS"):
        return next((k for k in answer if k.upper().startswith("BODY[HEADER.FIELDS")), None)
    if want == "BODY[]<10.20>":
        return "BODY[]<10>" if "BODY[]<10>" in answer else None
    return None


def _check_mime(item: str, fid: int, value) -> None:
    raw = message_bytes(fid)
    head, _, body = raw.partition(b"\r\n\r\n")
    subject = b"message %d word%d" % (fid, fid % 3)
    if item == "ENVELOPE":
        if value[1] != subject:
            raise _fail(f"ENVELOPE subject {value[1]!r}, the message says {subject!r}")
        return
    if item in ("BODYSTRUCTURE", "BODY"):
        kind = (value[0] or b"").upper(), (value[1] or b"").upper()
        if kind != (b"TEXT", b"PLAIN") or value[2] != len(body):
            raise _fail(f"{item} {value!r}: the message is text/plain of {len(body)} octets")
        return
    expected = {
        "BODY.PEEK[HEADER]": head + b"\r\n\r\n",
        "BODY[TEXT]": body,
        "BODY.PEEK[1]": body,
        "BODY.PEEK[HEADER.FIELDS (SUBJECT X-FUZZ-ID)]":
            b"Subject: " + subject + b"\r\nX-Fuzz-Id: %d\r\n\r\n" % fid,
        "BODY.PEEK[]<10.20>": raw[10:30],
    }[item]
    if value != expected:
        raise _fail(f"{item} of message {fid}: {value!r}, expected {expected!r}")


# --- garbage that leaves the server between commands --------------------------------------


@st.composite
def session_garbage(draw) -> bytes:
    """Broken input that cannot change mail state and never leaves a literal half-read."""
    kind = draw(st.sampled_from(["mutate", "literal", "nesting", "many_literals", "long_line",
                                 "nul", "bare", "idle_junk"]))
    if kind == "mutate":
        base = draw(st.sampled_from([b"a1 SEARCH OR SEEN (FLAGGED NOT DELETED) UID 1:*",
                                     b"a2 FETCH 1:* (FLAGS UID RFC822.SIZE)",
                                     b'a3 STATUS INBOX (MESSAGES UIDNEXT)', b'a4 LIST "" "*"',
                                     b"a5 NOOP", b'a6 ID ("name" "x")', b"a7 CAPABILITY"]))
        cut = draw(st.integers(0, len(base)))
        junk = draw(st.sampled_from([b"", b"\x00", b"\xff", b"(", b")", b'"', b"\\", b"{",
                                     b"]", b"\r", b"\t", b"\x7f", b"\xc3\xa9", b"{1}", b"*"]))
        base = base[:cut] + junk + base[cut + draw(st.integers(0, 3)):]
        if b"{" in base:  # a mutation must not announce a literal the server will wait for
            base = base.replace(b"{", b"(")
        return base + b"\r\n"
    if kind == "literal":
        size_text = draw(st.sampled_from([b"-100", b"-1", b"+5", b"5++", b" 5", b"", b"x",
                                          b"0", b"0+", b"5", b"5+", b"65537", b"65537+",
                                          b"4294967296", b"99999999999", b"1e3"]))
        verb = draw(st.sampled_from(SAFE_VERBS))
        head = b"t " + verb + b" {" + size_text + b"}\r\n"
        match = size_text.rstrip(b"+")
        plus = size_text.endswith(b"+") and match.isdigit()
        if not match.isdigit() or len(match) > 10:
            return head
        size = int(match)
        if not plus and size > 64 * 1024:
            return head  # refused before "+": the client sends nothing more
        if plus and size > 1024 * 1024:
            return head  # * BYE [TOOBIG]
        return head + b"y" * size + b"\r\n"
    if kind == "nesting":
        depth = draw(st.sampled_from([99, 100, 101, 500, 2000]))
        verb = draw(st.sampled_from([b"SEARCH ", b"FETCH 1 ", b"ID ", b"STATUS INBOX "]))
        if draw(st.booleans()):
            return b"n SEARCH " + b"NOT " * depth + b"ALL\r\n"
        return b"n " + verb + b"(" * depth + b"ALL" + b")" * depth + b"\r\n"
    if kind == "many_literals":
        count = draw(st.sampled_from([2, 50, 1001]))
        return b"m LOGIN " + b"{1+}\r\nx " * count + b"x\r\n"
    if kind == "long_line":
        size = draw(st.sampled_from([65530, 65536, 70000]))
        tail = draw(st.sampled_from([b"", b" {3+}\r\nabc"]))
        return b"l SEARCH SUBJECT " + b"a" * size + tail + b"\r\n"
    if kind == "nul":
        return b'z LOGIN "us\x00er" "pa\x00ss"\r\nz2 SELECT "IN\x00BOX"\r\n'
    if kind == "idle_junk":
        return b"DONE\r\n"
    return draw(st.sampled_from([b"\r\n", b"\n", b" \r\n", b"*\r\n", b"+\r\n", b"a\r\n",
                                 b"a \r\n", b"a UID\r\n", b"a UID NOOP\r\n", b"a FETCH\r\n",
                                 b"a STORE 1\r\n", b"a SEARCH {-100}\r\n", b"a SELECT\r\n"]))


def parser_roundtrip_command() -> st.SearchStrategy[Command]:
    return fst.commands()
