"""Drive sessions, check every response generically, and keep a replayable transcript.

A ``Harness`` owns one maildir and any number of sessions on it (in-process
``Session`` objects, or real ``imapsession`` processes). Each ``exchange`` sends
one chunk of client bytes and checks what comes back against the rules that
hold for any command, whatever the model says:

* every response parses with the strict parser in ``fuzz/responses.py``;
* each command gets exactly one tagged completion, with its tag, in order;
* no ``[SERVERBUG]``, no traceback text;
* no untagged EXPUNGE while answering FETCH, STORE or SEARCH by sequence number;
* EXISTS never shrinks without an EXPUNGE; FETCH/EXPUNGE name existing numbers;
  a sequence number keeps its UID; UIDs in a view ascend; UIDNEXT is above them.

Everything sent, and every outside delivery, is appended to ``transcript``, which
``fuzz/corpus.py`` writes as a plain IMAP file.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

from fuzz import mda
from fuzz.responses import Response, ResponseSyntaxError, parse_response, split_responses
from imapsession import clock

REPO = Path(__file__).resolve().parent.parent
NO_EXPUNGE_DURING = frozenset({"FETCH", "STORE", "SEARCH"})


class FuzzFailure(AssertionError):
    """An invariant the server broke."""


@attrs.define
class Sent:
    """One command the harness expects a completion for."""

    tag: str
    name: str
    uid: bool = False


@attrs.define
class ClientView:
    """What a careful client knows of its selected mailbox, learnt only from responses."""

    uids: list[int | None] = attrs.Factory(list)
    flags: dict[int, frozenset[str]] = attrs.Factory(dict)
    selected: bool = False
    uidnext: int = 0


# --- transports ---------------------------------------------------------------------


class InProcess:
    """A ``Session`` in this process, on its own store object (as a process would have)."""

    def __init__(self, location: str, session_factory=None):
        from imapsession.config import MailLocation
        from imapsession.session import Session
        from imapsession.storage import open_store

        self.store = open_store(MailLocation.parse(location, "/nonexistent"))
        factory = session_factory or Session
        self.session = factory(self.store, "fuzz")

    def greeting(self) -> bytes:
        return self.session.greeting()

    def exchange(self, data: bytes, done) -> bytes:
        return self.session.receive(data)

    @property
    def finished(self) -> bool:
        return self.session.finished

    def close(self) -> None:
        try:
            self.session.leave_selected()
        finally:
            self.store.close()


class Binary:
    """The real ``imapsession`` program on a pipe pair."""

    TIMEOUT = 10.0
    # tests plant a bug in the real program through a sitecustomize on this path
    extra_path: tuple[str, ...] = ()

    def __init__(self, location: str, session_factory=None):
        env = dict(os.environ, MAIL=location,
                   PYTHONPATH=os.pathsep.join([*self.extra_path, str(REPO)]))
        env.pop(clock.ENVIRONMENT, None)
        if clock.injected():  # the program's wall time, frozen where the fuzzer's is now
            env[clock.ENVIRONMENT] = repr(clock.now())
        for name in ("REMOTE_HOST", "SOCAT_PEERADDR", "TCPREMOTEIP", "LISTEN_FDS"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imapsession", "--allow-root"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=str(REPO),
        )
        self.buffer = b""
        self.eof = False
        self._greeting = self._read_until(lambda out: out.endswith(b"\r\n"))

    def _read_until(self, complete) -> bytes:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.TIMEOUT
        while not complete(self.buffer) and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FuzzFailure(f"server hung: no complete answer in {self.TIMEOUT}s; "
                                  f"got {self.buffer[-300:]!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.eof = True
                self.buffer += chunk
        out, self.buffer = self.buffer, b""
        return out

    def greeting(self) -> bytes:
        return self._greeting

    def exchange(self, data: bytes, done) -> bytes:
        if self.eof:
            return b""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.eof = True
        return self._read_until(done)

    @property
    def finished(self) -> bool:
        return self.eof

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


TRANSPORTS = {"session": InProcess, "binary": Binary}
BACKENDS = ("maildir", "mbox")


# --- the harness --------------------------------------------------------------------


def scratch_dir() -> str | None:
    """Where the throw-away maildirs go: a RAM file system when there is one.

    Thousands of maildirs a minute, each APPEND fsynced: on tmpfs an fsync is free.
    ``IMAPFUZZ_TMP`` overrides; otherwise the system's temporary directory.
    """
    chosen = os.environ.get("IMAPFUZZ_TMP")
    if chosen:
        return chosen
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None



class Harness:
    """One maildir, several sessions on it, generic checks, and the transcript."""

    def __init__(self, transport: str = "session", session_factory=None,
                 clock_start: float | None = None, backend: str = "maildir"):
        """``clock_start``: install a fixed clock there (both the fuzzer's and an
        in-process server's time), moved one second per exchange, so a run repeats.
        ``backend``: ``maildir``, or ``mbox`` (one file per mailbox, INBOX ``inbox``)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: one of {BACKENDS}")
        self.clock = None if clock_start is None else clock.FixedClock(clock_start)
        if self.clock is not None:
            clock.install(self.clock)
        self.backend = backend
        self.tmp = tempfile.mkdtemp(prefix="imapfuzz-", dir=scratch_dir())
        self.root = os.path.join(self.tmp, "Maildir" if backend == "maildir" else "mail")
        os.makedirs(self.root)
        self.location = (f"maildir:{self.root}" if backend == "maildir"
                         else f"mbox:{self.root}:INBOX={self.box_path('INBOX')}")
        self.transport_class = TRANSPORTS[transport]
        self.session_factory = session_factory
        self.sessions: dict[str, object] = {}
        self.views: dict[str, ClientView] = {}
        self.transcript: list[tuple] = []  # ("send", sid, bytes) / ("deliver", box, bytes)
        self.commands = 0
        self.delivered = 0

    def open(self, sid: str) -> Response:
        transport = self.transport_class(self.location, self.session_factory)
        self.sessions[sid] = transport
        self.views[sid] = ClientView()
        self.transcript.append(("open", sid, b""))
        greeting = transport.greeting()
        responses = self._parse(greeting)
        if len(responses) != 1 or responses[0].name not in ("PREAUTH", "OK"):
            raise FuzzFailure(f"bad greeting {greeting!r}")
        return responses[0]

    def alive(self, sid: str) -> bool:
        transport = self.sessions.get(sid)
        return transport is not None and not transport.finished

    def close(self) -> None:
        for transport in self.sessions.values():
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.clock is not None:
            clock.install(None)

    # --- outside delivery --------------------------------------------------------------

    def box_path(self, box: str) -> str:
        """Where ``box`` lives: a maildir folder, or an mbox file."""
        if self.backend == "mbox":
            return os.path.join(self.root, "inbox" if box == "INBOX" else box)
        return self.root if box == "INBOX" else os.path.join(self.root, "." + box)

    def has_box(self, box: str) -> bool:
        return box == "INBOX" or os.path.exists(self.box_path(box))

    def deliver(self, box: str, message: bytes) -> None:
        """An MDA delivers a message into ``box`` (``fuzz/mda.py``), as procmail would."""
        self.delivered += 1
        when = clock.now() if self.clock is not None else None
        if self.backend == "mbox":
            mda.deliver_mbox(self.box_path(box), message, time.time() if when is None else when,
                             create=box == "INBOX")
        else:
            name = f"{int(clock.now())}.fuzz{self.delivered}_{os.getpid()}.fuzzhost"
            mda.deliver_maildir(self.box_path(box), name, message, when)
        self.transcript.append(("deliver", box, message))

    # --- exchanges ---------------------------------------------------------------------

    def _parse(self, data: bytes) -> list[Response]:
        return parse_all(data)

    def exchange(self, sid: str, data: bytes, sent: list[Sent], *, broken: bool = False,
                 until_continuation: bool = False) -> list[tuple[Sent | None, list[Response], Response | None]]:
        """Send ``data``; return, per expected command, (command, untagged, tagged).

        With ``broken``, the chunk holds malformed input and the last ``sent`` is a
        sync command whose completion must arrive; tagged lines before it may only
        carry tags that occur in the chunk.
        """
        transport = self.sessions[sid]
        if self.clock is not None:
            self.clock.advance(1)
        self.transcript.append(("send", sid, data))
        self.commands += len(sent)
        wanted = [s.tag.encode() for s in sent]

        def done(out: bytes) -> bool:
            if until_continuation:
                return b"+ " in out and out.endswith(b"\r\n")
            raws, rest = split_responses(out)
            if rest:
                return False
            if any(r.startswith(b"* BYE") for r in raws):
                return False  # the server closes the stream: read to the end
            if not wanted:
                return True
            return any(r.startswith(wanted[-1] + b" ") for r in raws)

        output = transport.exchange(data, done)
        responses = self._parse(output)
        return self._check(sid, data, sent, responses, broken, until_continuation)

    def _check(self, sid, data, sent, responses, broken, until_continuation):
        view = self.views[sid]
        results: list[tuple[Sent | None, list[Response], Response | None]] = []
        pending = list(sent)
        untagged: list[Response] = []
        bye = after_bye = False
        for response in responses:
            current = pending[0] if pending else None
            if response.kind == "continue":
                continue
            if response.kind == "untagged":
                if bye:
                    raise FuzzFailure(f"response after BYE: {response.raw!r}")
                if response.name == "BYE":
                    bye = True
                self._view_update(view, response, current)
                untagged.append(response)
                continue
            # tagged
            if bye:  # only the completion of the command that ended the session
                ends = (current is not None and response.tag == current.tag) or (
                    broken and response.tag.encode() in data)
                if after_bye or not ends:
                    raise FuzzFailure(f"tagged response after BYE: {response.raw!r}")
            after_bye = bye
            if current is not None and response.tag == current.tag:
                results.append((current, untagged, response))
                pending.pop(0)
                untagged = []
                self._after_completion(view, current, response)
                continue
            if broken and response.tag.encode() in data and current is not None \
                    and current is sent[-1]:
                results.append((None, untagged, response))
                untagged = []
                continue
            raise FuzzFailure(
                f"unexpected tagged response {response.raw!r}; expected "
                f"{current.tag if current else 'nothing'}")
        if pending and not bye and not until_continuation:
            raise FuzzFailure(f"no tagged completion for {[s.tag for s in pending]}")
        if until_continuation and not any(r.kind == "continue" for r in responses) and not bye:
            raise FuzzFailure("no continuation request")
        if untagged:
            results.append((None, untagged, None))
        if bye:
            view.selected = False
        return results

    def _after_completion(self, view: ClientView, sent: Sent, tagged: Response) -> None:
        if sent.name in ("SELECT", "EXAMINE") and tagged.name == "OK":
            known = [u for u in view.uids if u is not None]
            if known and view.uidnext <= known[-1]:
                raise FuzzFailure(f"UIDNEXT {view.uidnext} is not above UID {known[-1]}")
        if sent.name in ("SELECT", "EXAMINE", "CLOSE", "UNSELECT") and (
                tagged.name != "OK" or sent.name in ("CLOSE", "UNSELECT")):
            if sent.name in ("SELECT", "EXAMINE") and tagged.name == "BAD":
                return
            view.selected = False
            view.uids = []
            view.flags = {}

    def _view_update(self, view: ClientView, r: Response, current: Sent | None) -> None:
        if r.name == "EXISTS":
            if current is not None and current.name in ("SELECT", "EXAMINE"):
                view.uids = [None] * r.number
                view.flags = {}
                view.selected = True
                return
            if r.number < len(view.uids):
                raise FuzzFailure(f"EXISTS shrank from {len(view.uids)} to {r.number} "
                                  "without EXPUNGE")
            view.uids.extend([None] * (r.number - len(view.uids)))
        elif r.name == "EXPUNGE":
            if current is not None and not current.uid and current.name in NO_EXPUNGE_DURING:
                raise FuzzFailure(f"EXPUNGE sent during {current.name} by sequence number")
            if not 1 <= r.number <= len(view.uids):
                raise FuzzFailure(f"EXPUNGE {r.number} of {len(view.uids)} messages")
            uid = view.uids.pop(r.number - 1)
            view.flags.pop(uid, None)
        elif r.name == "FETCH":
            if not 1 <= r.number <= len(view.uids):
                raise FuzzFailure(f"FETCH of message {r.number} of {len(view.uids)}")
            uid = r.data.get("UID")
            known = view.uids[r.number - 1]
            if uid is not None:
                if known is not None and known != uid:
                    raise FuzzFailure(f"message {r.number} was UID {known}, now UID {uid}")
                view.uids[r.number - 1] = uid
                _check_ascending(view.uids)
            uid = view.uids[r.number - 1]
            if "FLAGS" in r.data and uid is not None:
                view.flags[uid] = frozenset(f for f in r.data["FLAGS"] if f != "\\Recent")
        elif r.name == "OK" and r.code == "UIDNEXT" and current is not None \
                and current.name in ("SELECT", "EXAMINE"):
            view.uidnext = r.code_data


def parse_all(data: bytes) -> list[Response]:
    """Every response in ``data``, strictly parsed; no SERVERBUG, traceback or partial line."""
    raws, rest = split_responses(data)
    if rest:
        raise FuzzFailure(f"incomplete response at the end of output: {rest[:300]!r}")
    out = []
    for raw in raws:
        if b"SERVERBUG" in raw:
            raise FuzzFailure(f"server bug reported: {raw!r}")
        if b"Traceback" in raw or b'File "' in raw:
            raise FuzzFailure(f"traceback text on the wire: {raw[:300]!r}")
        try:
            out.append(parse_response(raw))
        except ResponseSyntaxError as exc:
            raise FuzzFailure(f"response violates RFC 3501 syntax: {exc}") from None
    return out


def _check_ascending(uids: list[int | None]) -> None:
    known = [u for u in uids if u is not None]
    if any(a >= b for a, b in zip(known, known[1:], strict=False)):
        raise FuzzFailure(f"UIDs in the view do not ascend: {known}")
