"""FETCH and UID FETCH in the selected state: bodies, sizes, flags and MIME items."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.machine.base import Action, MachineBase
from fuzz.machine.checks import check_complete, check_status, fail, uid_gone
from fuzz.model import message_bytes


class FetchRules(MachineBase):
    """``op_fetch``: drawn by ``in_selected``."""

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
                check_status(tagged, "BAD")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            if item in ("BODY[]", "RFC822", "BODY[TEXT]") and not readonly:
                self._flags_changing(sid, [m for m in live if "\\Seen" not in m.flags])
                for msg in live:
                    msg.flags.add("\\Seen")
            got = {}
            for r in untagged:
                # a FETCH without UID is not an answer (every answer here carries the UID
                # asked for) but an unsolicited flag update, allowed at any time (RFC 3501
                # section 7.4.2): a message left unanswered still fails the check below
                if r.name == "FETCH" and "UID" in r.data:
                    key = _answer_key(item, r.data)
                    if key is not None:
                        got[r.data["UID"]] = r.data[key]
            # a message expunged elsewhere but still in this view may still be answered
            # (RFC 2180 4.1.1), but only one of those named
            extra = set(got) - {m.uid for m in live}
            if not {m.uid for m in live} <= set(got) or not extra <= (set(uids) & box.gone):
                raise fail(f"FETCH {text!r} answered UIDs {sorted(got)}, expected "
                           f"{sorted(m.uid for m in live)}")
            for msg in live:
                value = got[msg.uid]
                if item in ("BODY[]", "BODY.PEEK[]", "RFC822") and value != message_bytes(msg.fid):
                    raise fail(f"UID {msg.uid}: body differs from what was stored")
                if item == "RFC822.SIZE" and value != msg.size:
                    raise fail(f"UID {msg.uid}: RFC822.SIZE {value}, expected {msg.size}")
                if item in MIME_ITEMS:
                    _check_mime(item, msg.fid, value)
            check_complete(tagged, len(live) == len(uids), hidden or uid_gone(by_uid, live, uids) or bool(extra))
        self._run(sid, [Action("FETCH", wire, check, by_uid)])


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
            raise fail(f"ENVELOPE subject {value[1]!r}, the message says {subject!r}")
        return
    if item in ("BODYSTRUCTURE", "BODY"):
        kind = (value[0] or b"").upper(), (value[1] or b"").upper()
        if kind != (b"TEXT", b"PLAIN") or value[2] != len(body):
            raise fail(f"{item} {value!r}: the message is text/plain of {len(body)} octets")
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
        raise fail(f"{item} of message {fid}: {value!r}, expected {expected!r}")


def sets_seen(item) -> bool:
    """Whether fetching ``item`` sets \\Seen (RFC 3501 6.4.5: the non-PEEK body items)."""
    return item.name in ("RFC822", "RFC822.TEXT") or (
        item.name in ("BODY[]", "BINARY[]") and not item.peek)


class GrammarFetchRules(MachineBase):
    """``op_fetch_any``: any FETCH item list the grammar accepts (``fst.fetch_item_lists``).

    Only what holds for every item is checked: each live message is answered, with
    every item asked for, and the command completes OK (NO only for an expunged
    message or a content transfer encoding BINARY cannot undo), never BAD.
    """

    def op_fetch_any(self, data, sid):
        from fuzz import strategies as fst
        from fuzz.wire import Encoder

        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        items = data.draw(fst.fetch_item_lists)
        text, uids = self._targets(sid, data, by_uid)
        hidden = by_uid and None in self.h.views[sid].uids
        empty_seq = not by_uid and not self.h.views[sid].uids
        readonly = self.selected[sid][1]
        encoder = Encoder(None)
        listed = b" ".join(encoder.fetch_item(i) for i in items)

        def wire(t):
            return (t.encode() + (b" UID" if by_uid else b"") + b" FETCH " + text + b" (UID "
                    + listed + b")\r\n")

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            if empty_seq:
                check_status(tagged, "BAD")
                return
            live = [box.by_uid(u) for u in uids if box.by_uid(u) is not None]
            if not readonly and any(sets_seen(i) for i in items):
                self._flags_changing(sid, [m for m in live if "\\Seen" not in m.flags])
                for msg in live:
                    msg.flags.add("\\Seen")
            answered = {r.data["UID"] for r in untagged if r.name == "FETCH" and "UID" in r.data}
            missing = {m.uid for m in live} - answered
            if tagged.name == "NO" and tagged.code == "UNKNOWN-CTE":
                return
            if missing:
                raise fail(f"FETCH {text!r} ({listed!r}) left UIDs {sorted(missing)} unanswered")
            check_complete(tagged, len(live) == len(uids), hidden or uid_gone(by_uid, live, uids)
                           or bool(answered - {m.uid for m in live}))
        self._run(sid, [Action("FETCH", wire, check, by_uid)])
