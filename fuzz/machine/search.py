"""SEARCH and UID SEARCH, with search keys the model can evaluate."""

from __future__ import annotations

import attrs
from hypothesis import strategies as st

from fuzz.machine.base import Action, MachineBase
from fuzz.machine.checks import check_any_status, check_status, fail
from fuzz.model import KEYWORDS, message_bytes

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
model_search_keys = st.recursive(_leaf, lambda inner: st.one_of(
    st.tuples(st.just("NOT"), inner), st.tuples(st.just("OR"), inner, inner),
    st.tuples(st.just("AND"), inner, inner)), max_leaves=5)


def key_text(key: tuple) -> str:
    name = key[0]
    if name in ("NOT",):
        return "NOT " + key_text(key[1])
    if name == "OR":
        return f"OR {key_text(key[1])} {key_text(key[2])}"
    if name == "AND":
        return f"({key_text(key[1])} {key_text(key[2])})"
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


def evaluate(key: tuple, msg, seq: int, uids: list) -> bool:
    name = key[0]
    if name == "NOT":
        return not evaluate(key[1], msg, seq, uids)
    if name == "OR":
        return evaluate(key[1], msg, seq, uids) or evaluate(key[2], msg, seq, uids)
    if name == "AND":
        return evaluate(key[1], msg, seq, uids) and evaluate(key[2], msg, seq, uids)
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


class SearchRules(MachineBase):
    """``op_search``: drawn by ``in_selected``."""

    def op_search(self, data, sid):
        self._ensure_known(sid)
        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        key = data.draw(model_search_keys)

        def check(untagged, tagged):
            box = self._box(sid)
            if box is None:
                return
            view = self.h.views[sid]
            check_status(tagged, "OK")
            (found,) = [r.data for r in untagged if r.name == "SEARCH"]
            expected = []
            unannounced = set()  # expunged elsewhere, not yet announced to this session:
            stale = self.stale[sid]  # RFC 2180 4.3 lets them match or not; and flags changed
            for seq, uid in enumerate(view.uids, 1):  # elsewhere may match old or new
                msg = box.by_uid(uid)
                number = uid if by_uid else seq
                if msg is None:
                    unannounced.add(number)
                    continue
                matches = evaluate(key, msg, seq, view.uids)
                if uid in stale and matches != evaluate(
                        key, attrs.evolve(msg, flags=set(stale[uid])), seq, view.uids):
                    unannounced.add(number)
                elif matches:
                    expected.append(number)
            if by_uid:  # expunged elsewhere and announced only after the answer (UID
                unannounced |= set(found) & box.gone  # SEARCH allows EXPUNGE after it)
            if sorted(set(found) - unannounced) != expected:
                raise fail(f"SEARCH {key_text(key)} found {found}, expected {expected}"
                           f" (and maybe some of {sorted(unannounced)}: expunged or flags "
                           "changed elsewhere)")
        wire = lambda t: (t.encode() + (b" UID" if by_uid else b"") + b" SEARCH "  # noqa: E731
                          + key_text(key).encode() + b"\r\n")
        self._run(sid, [Action("SEARCH", wire, check, by_uid)])


class GrammarSearchRules(MachineBase):
    """``op_search_any``: any SEARCH the grammar accepts (``fst.search_args``).

    The model cannot evaluate every key (dates, CC, BCC, NEW, ...), so this checks
    what holds for any: one SEARCH response naming only messages in the view, and
    OK (NO only for a charset the server refuses; BAD only for a set naming no message).
    """

    def op_search_any(self, data, sid):
        from fuzz import strategies as fst
        from fuzz.wire import Encoder

        if not self._selected_ok(sid):
            return
        by_uid = data.draw(st.booleans())
        charset, key = data.draw(fst.search_args())
        encoder = Encoder(None)
        tail = (b"CHARSET " + encoder.astring(charset.encode()) + b" " if charset else b"") \
            + encoder.search_key(key, charset, top=True)

        def check(untagged, tagged):
            if tagged.name == "NO" and tagged.code == "BADCHARSET":
                return
            check_any_status(untagged, tagged)
            if tagged.name != "OK":
                return
            found = [r.data for r in untagged if r.name == "SEARCH"]
            if len(found) != 1:
                raise fail(f"SEARCH {tail!r} answered {len(found)} SEARCH responses")
            view = self.h.views[sid]
            known = set(range(1, len(view.uids) + 1)) if not by_uid else {
                u for u in view.uids if u is not None}
            if not by_uid and not set(found[0]) <= known:
                raise fail(f"SEARCH {tail!r} found {found[0]}, the view has {len(view.uids)}")
            if by_uid and None not in view.uids and not set(found[0]) <= known:
                raise fail(f"UID SEARCH {tail!r} found {found[0]}, the view has {sorted(known)}")
        wire = lambda t: (t.encode() + (b" UID" if by_uid else b"") + b" SEARCH "  # noqa: E731
                          + tail + b"\r\n")
        self._run(sid, [Action("SEARCH", wire, check, by_uid)])
