"""Protocol edges: the wrong state, harmless pipelines, garbage, IDLE."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from fuzz.harness import Sent
from fuzz.machine.base import NAMES, SIDS, Action, MachineBase
from fuzz.machine.checks import check_any_status, check_status, fail

DISCARD_CAP = 4 * 100 * 1024 * 1024  # protocol/limits.py: 4 x the default APPENDLIMIT
SAFE_VERBS = (b"SEARCH", b"LOGIN", b"STATUS", b"FETCH 1 BODY.PEEK[HEADER.FIELDS", b"ID (",
              b"UID SEARCH TEXT", b"LSUB \"\"", b"ENABLE")


class EdgeRules(MachineBase):
    """Commands and input that must change nothing."""

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
                raise fail(f"{line!r} in the wrong state answered {tagged.raw!r}")
        self._run(sid, [Action(line.split(b" ")[0].decode(),
                               lambda t: t.encode() + b" " + line + b"\r\n", check)],
                  current=False)

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
                                  check_any_status, uid))
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
            byes = [r.raw.lower() for _s, untagged, _t in results for r in untagged
                    if r.name == "BYE"]
            if chunk.startswith(b"m LOGIN ") and any(b"literal" in raw or b"discard" in raw
                                                     for raw in byes):
                # RFC 7888 section 4: the rest is discarded and answered BAD [LIMIT]
                raise fail(f"too many literals in one command ended the session: {byes}")
            self._ended(sid)
            return
        for sent, _untagged, tagged in results:
            if sent is not None and tagged.name != "OK":
                raise fail(f"sync NOOP after garbage answered {tagged.raw!r}")
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
                check_status(tagged, "OK")
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
                check_status(tagged, "OK")
        self._check_cache(sid)


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
        if plus and size > DISCARD_CAP:
            return head  # * BYE [TOOBIG], not waited for; a smaller one is discarded
        return head + b"y" * size + b"\r\n"
    if kind == "nesting":
        depth = draw(st.sampled_from([99, 100, 101, 500, 2000]))
        verb = draw(st.sampled_from([b"SEARCH ", b"FETCH 1 ", b"ID ", b"STATUS INBOX "]))
        if draw(st.booleans()):
            return b"n SEARCH " + b"NOT " * depth + b"ALL\r\n"
        return b"n " + verb + b"(" * depth + b"ALL" + b")" * depth + b"\r\n"
    if kind == "many_literals":  # past 1000: BAD [LIMIT], the rest discarded, the session goes on
        count = draw(st.sampled_from([2, 50, 1001, 5000]))
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
