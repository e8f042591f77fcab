"""The login target: the pre-authentication parser that faces the network, as a state machine.

One client talks to the login-mode child (``fuzz/login_wire.py``: the child's own
``Session`` in process, or ``python -m imapsession --login``): LOGIN (quoted, atom,
literals), AUTHENTICATE PLAIN with SASL-IR or a continuation line (or ``*``),
STARTTLS, ID, CAPABILITY, NOOP, mail commands that need a login, over-long lines,
literals past the pre-login limits, too many literals, garbage, LOGOUT. Every chunk
ends with a sync NOOP. Checked after every exchange:

* every response parses with the strict parser (``fuzz/responses/``);
* no password, and no SASL blob carrying one, appears in any response;
* nothing before a successful login reaches mail: no mail data (EXISTS, FLAGS,
  LIST, STATUS, FETCH, ...), every command that needs a login is refused, the
  child holds no store, and an insecure transport hands no credentials on;
* the pre-login limits hold (``protocol/limits.pre_login``): a line or literal past
  8 KiB, or more than 32 literals, is never accepted, and a too-large
  synchronising literal gets no ``+`` continuation;
* each command gets one tagged answer of the status it must have; the good
  password logs in, a wrong one is refused, the third refusal ends with BYE.
"""

from __future__ import annotations

import base64

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from fuzz.harness import FuzzFailure, parse_all
from fuzz.login_wire import PASSWORD, USER, LoginBinary, LoginWorld, PreLoginChild
from fuzz.responses import split_responses
from fuzz.steps import record_rules

WRONG = ("Wr0ng-pass-1", "hunter2-Zq9", PASSWORD + "x", PASSWORD[:-1])
USERS = (USER, "nosuchuser", USER.upper())
# what may come untagged before login: nothing of a mailbox
PRE_LOGIN_UNTAGGED = frozenset({"CAPABILITY", "ID", "OK", "NO", "BAD", "BYE"})
MAIL_COMMANDS = ('SELECT INBOX', 'EXAMINE INBOX', 'LIST "" *', 'LSUB "" *', 'CREATE x',
                 'DELETE INBOX', 'STATUS INBOX (MESSAGES)', 'FETCH 1 FLAGS', 'UID FETCH 1 BODY[]',
                 'STORE 1 +FLAGS (\\Seen)', 'COPY 1 x', 'EXPUNGE', 'SEARCH ALL', 'NAMESPACE',
                 'ENABLE IDLE', 'IDLE', 'SUBSCRIBE INBOX', 'UNSELECT', 'CLOSE', 'CHECK',
                 'APPEND INBOX {5+}\r\nhello', 'GETQUOTAROOT INBOX')
PRE_LOGIN_MAX = 8 * 1024  # protocol/limits.pre_login: max_line and max_literal


@attrs.define
class LoginHarness:
    """The connection, the transcript a saved case holds, and the secrets said so far."""

    transport: str
    session_factory: object = None
    conn: object = None
    world: LoginWorld | None = None
    transcript: list = attrs.Factory(list)
    commands: int = 0
    secrets: set = attrs.Factory(set)

    def open(self, secure: bool) -> bytes:
        if self.conn is not None:
            self.conn.close()
        if self.transport == "binary":
            if self.world is None:
                self.world = LoginWorld()
            self.conn = LoginBinary(secure, self.world)
        else:
            self.conn = PreLoginChild(secure, self.session_factory)
        self.transcript.append(("open", "A", b""))
        return self.conn.greeting()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.world is not None:
            self.world.close()


HARMLESS = frozenset({b"CAPABILITY", b"NOOP", b"ID", b"LOGOUT"})


def _harmless_tags(chunk: bytes) -> set[str]:
    """Tags of garbage lines that happen to be a command allowed (and OK) before login.

    Hypothesis seeds its byte strings with constants from the loaded modules, so
    garbage can spell ``a7 CAPABILITY``: its OK is right, not an answer to nothing.
    """
    tags = set()
    for line in chunk.split(b"\n"):
        parts = line.strip().split(b" ")
        if len(parts) >= 2 and parts[1].upper() in HARMLESS:
            tags.add(parts[0].decode("latin-1"))
    return tags


def _until(tag: str, challenge: bool):
    """When an answer is complete: the tagged line of ``tag`` (or a ``+`` challenge)."""
    mark = tag.encode() + b" "

    def done(out: bytes) -> bool:
        raws, rest = split_responses(out)
        if rest or any(r.startswith(b"* BYE") for r in raws):
            return False  # after BYE: read to the end
        return any(r.startswith(mark) or (challenge and r.startswith(b"+")) for r in raws)
    return done


class LoginMachine(RuleBasedStateMachine):
    """The pre-login rules; ``transport`` "session" (in process) or "binary"."""

    transport = "session"
    backend = "maildir"  # the mail behind a successful login (binary only)
    session_factory = None
    clock_start: float | None = None  # login mode reads no clock the fuzzer fixes

    def __init__(self):
        super().__init__()
        from fuzz.machine.base import LAST

        LAST[:] = [self]
        self.h = LoginHarness(self.transport, self.session_factory)
        self.tags = 0
        self._open(True)

    @classmethod
    def setup_state(cls):
        state = super().setup_state()
        record_rules(state)  # saved cases replay through this model (fuzz/steps.py)
        return state

    def teardown(self):
        self.h.close()

    # --- plumbing --------------------------------------------------------------------

    def _open(self, secure: bool) -> None:
        self.secure = secure
        self.failures = 0
        self.logged_in = False
        greeting = parse_all(self.h.open(secure))
        if len(greeting) != 1 or greeting[0].name != "OK" or greeting[0].code != "CAPABILITY":
            raise FuzzFailure(f"bad login-mode greeting {greeting!r}")
        caps = greeting[0].code_data
        wanted = "AUTH=PLAIN" if secure else "LOGINDISABLED"
        if wanted not in caps or ("AUTH=PLAIN" in caps and not secure):
            raise FuzzFailure(f"greeting on a {'secure' if secure else 'plain'} transport "
                              f"offers {caps}")

    def _tag(self) -> str:
        self.tags += 1
        return f"L{self.tags}"

    @property
    def live(self) -> bool:
        return not self.h.conn.finished

    def _send(self, chunk: bytes, expect: dict[str, tuple[str, ...]], *, sync: bool = True,
              stray: bool = False, login: str | None = None, challenge: bool = False) -> list:
        """Send ``chunk`` (+ a sync NOOP); check every answer; return the responses.

        ``expect``: tag -> the statuses its answer may have. ``stray``: the chunk is
        garbage, so tagged answers to tags we did not choose may come (never OK).
        ``login``: the tag of a LOGIN/AUTHENTICATE with the good credentials.
        ``challenge``: AUTHENTICATE without an initial response, no sync: read until
        its ``+`` challenge or its answer.
        """
        sync = sync and not challenge
        sync_tag = self._tag()
        data = chunk + (f"{sync_tag} NOOP\r\n".encode() if sync else b"")
        if sync:
            expect = {**expect, sync_tag: ("OK",)}
        self.h.transcript.append(("send", "A", data))
        self.h.commands += len(expect)
        out = self.h.conn.exchange(data, _until(sync_tag if sync else next(iter(expect), ""),
                                                challenge))
        responses = parse_all(out)
        if login is not None and getattr(self.h.conn, "logged_in", None) == login:
            self.logged_in = True  # in process: the parent (played by the wire) said yes
        for secret in self.h.secrets:
            if secret in out:
                raise FuzzFailure(f"a credential ({secret!r}) is in a response: {out[-500:]!r}")
        answered: dict[str, str] = {}
        bye = False
        for r in responses:
            if r.kind == "continue" or self.logged_in:
                continue  # after a login the user's session answers: not ours to judge here
            if r.kind == "untagged":
                if r.name not in PRE_LOGIN_UNTAGGED:
                    raise FuzzFailure(f"mail data before login: {r.raw!r}")
                bye = bye or r.name == "BYE"
                continue
            if r.tag in answered:
                raise FuzzFailure(f"tag {r.tag} answered twice: {r.raw!r}")
            answered[r.tag] = r.name
            if r.tag == login and r.name == "OK":
                self.logged_in = True
                continue
            if r.tag in expect:
                if r.name not in expect[r.tag]:
                    raise FuzzFailure(f"expected {'/'.join(expect[r.tag])}: {r.raw!r}")
            elif not stray or (r.name == "OK" and r.tag not in _harmless_tags(chunk)):
                raise FuzzFailure(f"an answer to no command sent: {r.raw!r}")
        ended = bye or self.h.conn.finished
        challenged = challenge and any(r.kind == "continue" for r in responses)
        if not ended and not self.logged_in and not challenged:
            missing = [t for t in expect if t not in answered]
            if missing:
                raise FuzzFailure(f"no tagged answer for {missing}: {out[-500:]!r}")
        if login is not None and not self.logged_in and not ended and self.secure:
            raise FuzzFailure(f"the right password did not log in: {out[-500:]!r}")
        self._check_child()
        if self.logged_in:  # what follows is the user's session: the session targets' job
            self.h.conn.close()
        return responses

    def _check_child(self) -> None:
        requests = getattr(self.h.conn, "requests", [])
        if requests and not self.secure:
            raise FuzzFailure("credentials were handed on over an insecure transport")

    def _credentials(self, data, good: bool) -> tuple[str, str]:
        if good:
            return USER, PASSWORD
        password = data.draw(st.sampled_from(WRONG))
        return data.draw(st.sampled_from(USERS)), password

    def _login_statuses(self, good: bool) -> tuple[str, ...]:
        if not self.secure:
            return ("NO",)  # [PRIVACYREQUIRED]
        return ("OK",) if good else ("NO",)

    def _failed(self, good: bool) -> None:
        if self.secure and not good:
            self.failures += 1

    # --- rules -----------------------------------------------------------------------

    @precondition(lambda self: not self.live)
    @rule(secure=st.booleans())
    def reconnect(self, secure):
        self._open(secure)

    @precondition(lambda self: self.live)
    @rule(what=st.sampled_from(["CAPABILITY", "NOOP", "ID NIL", 'ID ("name" "fuzz")']))
    def harmless(self, what):
        tag = self._tag()
        responses = self._send(f"{tag} {what}\r\n".encode(), {tag: ("OK",)})
        if what == "CAPABILITY" and not self.logged_in:
            caps = [r.data for r in responses if r.kind == "untagged" and r.name == "CAPABILITY"]
            if len(caps) != 1 or ("LOGINDISABLED" in caps[0]) == self.secure:
                raise FuzzFailure(f"CAPABILITY before login: {caps}")

    @precondition(lambda self: self.live)
    @rule()
    def starttls(self):
        tag = self._tag()  # TLS is the front end's (stunnel): always refused here
        self._send(f"{tag} STARTTLS\r\n".encode(), {tag: ("BAD", "NO")})

    @precondition(lambda self: self.live)
    @rule(data=st.data(), good=st.booleans(),
          form=st.sampled_from(["quoted", "atom", "literal", "literal+"]))
    def login(self, data, good, form):
        user, password = self._credentials(data, good)
        self.h.secrets.add(password.encode())
        tag = self._tag()

        def arg(text: str) -> bytes:
            raw = text.encode()
            if form == "quoted":
                return b'"' + raw + b'"'
            if form == "atom":
                return raw
            return b"{%d%s}\r\n" % (len(raw), b"+" if form == "literal+" else b"") + raw
        chunk = tag.encode() + b" LOGIN " + arg(user) + b" " + arg(password) + b"\r\n"
        self._send(chunk, {tag: self._login_statuses(good)}, login=tag if good else None)
        self._after_login(good, user, password)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), good=st.booleans(), initial=st.booleans(),
          how=st.sampled_from(["plain", "authzid", "cancel", "not-base64", "no-nul"]))
    def authenticate(self, data, good, initial, how):
        user, password = self._credentials(data, good)
        self.h.secrets.add(password.encode())
        authzid = user if how == "authzid" else ""
        blob = f"{authzid}\0{user}\0{password}".encode()
        if how == "no-nul":
            blob = f"{user}{password}".encode()
        line = base64.b64encode(blob)
        self.h.secrets.add(line)
        if how == "not-base64":
            line = b"!!" + line
        tag = self._tag()
        if how == "cancel":
            initial, line = False, b"*"
        decodes = how in ("plain", "authzid")
        if not self.secure:  # refused before decoding, unless the grammar refuses first
            statuses = ("BAD",) if initial and how == "not-base64" else ("NO",)
        elif how == "cancel" or not decodes:
            statuses = ("BAD",)
        else:
            statuses = self._login_statuses(good)
        good_login = good and decodes
        login = tag if good_login else None
        if initial:
            chunk = tag.encode() + b" AUTHENTICATE PLAIN " + line + b"\r\n"
            self._send(chunk, {tag: statuses}, login=login)
        else:  # as a client does: the response line only after the "+" challenge
            first = self._send(tag.encode() + b" AUTHENTICATE PLAIN\r\n", {tag: statuses},
                               challenge=True)
            if not any(r.kind == "continue" for r in first):
                if self.secure and self.live:
                    raise FuzzFailure("AUTHENTICATE PLAIN on a secure transport: no challenge")
                return
            self._send(line + b"\r\n", {tag: statuses}, login=login)
        if decodes or not self.secure:
            self._after_login(good_login, user, password)

    def _after_login(self, good: bool, user: str, password: str) -> None:
        if not self.secure:
            return
        requests = getattr(self.h.conn, "requests", None)
        if requests is not None and requests:  # in process: what the parent was handed
            last = requests[-1]
            if (last.user, last.password) != (user.encode(), password.encode()):
                raise FuzzFailure(f"the child handed on {last!r}, not what the client sent")
        self._failed(good)
        if self.failures >= 3 and self.live:
            raise FuzzFailure("three failed logins and the connection is still open")

    @precondition(lambda self: self.live)
    @rule(command=st.sampled_from(MAIL_COMMANDS))
    def needs_login(self, command):
        tag = self._tag()
        self._send(f"{tag} {command}\r\n".encode(), {tag: ("BAD", "NO")})

    @precondition(lambda self: self.live)
    @rule(data=st.binary(max_size=120))
    def garbage(self, data):
        chunk = data.replace(b"{", b"(")  # no literal to wait for
        # tags are echoed: garbage that spells a check's own words would trip it
        for word in (b"SERVERBUG", b"Traceback", b'File "', *self.h.secrets,
                     *(w.encode() for w in (PASSWORD, *WRONG))):
            while word in chunk:
                chunk = chunk.replace(word, b"")
        # an AUTHENTICATE in the garbage would take the sync NOOP as its response line
        lines = [line for line in chunk.split(b"\n") if b"AUTHENTICATE" not in line.upper()]
        self._send(b"\n".join(lines) + b"\r\n", {}, stray=True)

    @precondition(lambda self: self.live)
    @rule(extra=st.integers(1, 3000), where=st.sampled_from(["ID", "LOGIN"]))
    def long_line(self, extra, where):
        tag = self._tag()
        filler = "a" * (PRE_LOGIN_MAX + extra)
        text = f'{tag} ID ("x" "{filler}")' if where == "ID" else f'{tag} LOGIN {filler} x'
        self._send(text.encode() + b"\r\n", {tag: ("BAD",)}, stray=True)

    @precondition(lambda self: self.live)
    @rule(extra=st.integers(1, 3000), sync=st.booleans())
    def big_literal(self, extra, sync):
        tag = self._tag()
        size = PRE_LOGIN_MAX + extra
        if sync:  # refused before the continuation: the data never comes
            chunk = f"{tag} LOGIN {{{size}}}\r\n".encode()
        else:
            chunk = f"{tag} LOGIN {{{size}+}}\r\n".encode() + b"z" * size + b" x\r\n"
        responses = self._send(chunk, {tag: ("BAD", "NO")}, stray=True)
        if sync and any(r.kind == "continue" for r in responses):
            raise FuzzFailure(f"a {size}-octet literal before login got a continuation")

    @precondition(lambda self: self.live)
    @rule(count=st.integers(33, 60))
    def many_literals(self, count):
        tag = self._tag()
        # each pair is two literals: count // 2 + 1 pairs are more than 32 literals
        items = b" ".join(b"{2+}\r\nk%d {1+}\r\nv" % (i % 10) for i in range(count // 2 + 1))
        self._send(tag.encode() + b" ID (" + items + b")\r\n", {tag: ("BAD",)}, stray=True)

    @precondition(lambda self: self.live)
    @rule()
    def logout(self):
        tag = self._tag()
        responses = self._send(f"{tag} LOGOUT\r\n".encode(), {tag: ("OK",)}, sync=False)
        if not self.logged_in and not any(r.name == "BYE" for r in responses):
            raise FuzzFailure("LOGOUT without BYE")
        self.h.conn.close()
