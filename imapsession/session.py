"""The IMAP session: the state machine, dispatch through the command table, the sync point.

Theory of operation
-------------------
The session is sans-I/O: ``receive(bytes)`` returns the bytes to send. Inside,
the framer cuts commands out of the stream, the grammar parses them, and the
command table (``commands/table.py``, given to the session) says whether the
current state accepts each; a handler in ``commands/`` runs it and answers with
a ``Done``. Handlers see the session only through ``commands/context.py``'s
``HandlerSession`` and never import this module: imports go one way, from the
session down to the commands. A handler module is imported when its command
first arrives, never before the greeting. After each command in the selected
state the mailbox view is refreshed (``view.py``: the one place that decides
when EXISTS/EXPUNGE/FETCH FLAGS may go out), then the tagged line is written.
Every state change happens in this file.

A command the table flags ``takes_over_input`` (IDLE waiting for DONE,
AUTHENTICATE for its response line) may call ``take_over_input``: until it
calls ``release_input``, every byte received goes to its module's ``consume``
instead of the framer, and what ``consume`` hands back (the bytes after the
line, e.g. commands pipelined behind DONE in the same write) is framed as usual.

    NOT_AUTHENTICATED --LOGIN/AUTHENTICATE--> AUTHENTICATED   (login mode)
    (preauth starts in AUTHENTICATED)
    AUTHENTICATED --SELECT/EXAMINE ok--> SELECTED
    SELECTED --SELECT/EXAMINE fail, CLOSE, UNSELECT--> AUTHENTICATED
    any --LOGOUT, BYE--> LOGOUT
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from imapsession import greeting
from imapsession.clock import now as wall_clock
from imapsession.commands.results import CommandError, Done, no
from imapsession.commands.table import (
    AUTH,
    COMMANDS,
    INPUT_ENTRY_POINT,
    NOT_AUTH,
    SELECTED,
    CommandEntry,
    State,
    handler_name,
)
from imapsession.observe.transcript import Transcript
from imapsession.protocol import framing
from imapsession.protocol.command import Command
from imapsession.protocol.grammar import ParseError, parse_command, tag_of
from imapsession.protocol.limits import Limits

if TYPE_CHECKING:
    from types import ModuleType

    from imapsession.storage.base import MailStore
    from imapsession.view import MailboxView

log = logging.getLogger("imapsession")

MAX_BAD_IN_A_ROW = 20
FLUSH_AT = 256 * 1024
DEFAULT_LIMITS = Limits()  # protocol/limits.py; tests import Limits from here too


def _handler_module(entry: CommandEntry) -> ModuleType:
    """The entry's handler module, imported the first time its command arrives."""
    import importlib

    return importlib.import_module(entry.module)


class Session:
    """One IMAP session; see the module docstring."""

    def __init__(
        self,
        store: MailStore | None,
        user: str | None,
        limits: Limits = DEFAULT_LIMITS,
        capabilities_extra: tuple[str, ...] = (),
        clock: Callable[[], float] = wall_clock,
        table: Mapping[str, CommandEntry] = COMMANDS,
    ):
        self.store = store
        self.user = user
        self.limits = limits
        self.clock = clock
        self.table = table  # command -> states, handler module (commands/table.py)
        self.state = State.AUTHENTICATED if store is not None else State.NOT_AUTHENTICATED
        self.view: MailboxView | None = None
        self.framer = framing.Framer(self._literal_policy, limits.max_line, limits.max_command,
                                     limits.max_literals, limits.max_discard)
        self.output: list[bytes] = []
        self._output_size = 0
        # the driver's writer: with it, a long answer (FETCH 1:* BODY[]) streams out
        # in pieces instead of piling up in memory; without it (tests) all is returned
        self.output_sink: Callable[[bytes], None] | None = None
        self.bad_in_a_row = 0
        self.enabled: set[str] = set()
        self.enableable: frozenset[str] = frozenset()
        # a command that has taken over the input (IDLE, AUTHENTICATE) and the
        # incomplete line it has read so far; see take_over_input
        self.input_owner: Command | None = None
        self.input_owner_buffer = b""
        self.capabilities_extra = capabilities_extra
        self.greeting_note = ""  # after the PREAUTH user name (the demo says what it is)
        self.expunged_total = 0
        # login mode (login.py): None = LOGIN/AUTHENTICATE not offered; else whether
        # the transport is secure. A login request waits in pending_login for its verdict.
        self.login_secure: bool | None = None
        self.pending_login: tuple[Command, object] | None = None
        self.exit_status = 0
        # debugging (observe/): the last commands, a crash reporter, a process-title
        # hook, and test-only injected faults (set by the command line, never by a client)
        self.transcript = Transcript()
        self.crash_reporter: Callable[[BaseException, Session], str] | None = None
        self.on_command: Callable[[str | None, str | None], None] | None = None
        self.faults: dict[str, str] = {}

    # --- output ---------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.output.append(data)
        self._output_size += len(data)
        if self.output_sink is not None and self._output_size >= FLUSH_AT:
            self.output_sink(self.take_output())

    def take_output(self) -> bytes:
        data = b"".join(self.output)
        self.output.clear()
        self._output_size = 0
        return data

    @property
    def finished(self) -> bool:
        return self.state is State.LOGOUT

    def capabilities(self) -> list[str]:
        extra = self.capabilities_extra
        if self.state is State.NOT_AUTHENTICATED and self.login_secure is not None:
            extra = (*extra, *greeting.login_capabilities(self.login_secure))
        return greeting.capabilities(self.limits.max_append, extra)

    def greeting(self) -> bytes:
        preauth = self.user if self.state is State.AUTHENTICATED else None
        return greeting.greeting(preauth, self.capabilities(), self.greeting_note)

    def bye(self, text: str) -> bytes:
        """End the session from outside (timeouts, shutdown)."""
        self.state = State.LOGOUT
        self.send(f"* BYE {text}\r\n".encode())
        return self.take_output()

    # --- input ----------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Feed client bytes; run every complete command; return what to send."""
        pending = data
        while True:
            if self.input_owner is not None:
                # a command reads the input itself (IDLE its DONE, AUTHENTICATE its
                # response line); what follows that line is ordinary input
                pending = self._input_consumer()(self, pending)
                if self.input_owner is not None:
                    break
            self.framer.feed(pending)
            while (not self.finished and self.input_owner is None
                   and self.pending_login is None):  # a login waits for login.py's verdict
                event = self.framer.next_event()
                self.output.extend(self.framer.continuations)
                self.framer.continuations.clear()
                if event is None:
                    break
                self._event(event)
            if self.input_owner is None or self.finished:
                break
            # a command took over the input with more already read (DONE in the same write)
            pending = self.framer.take_buffer()
            if not pending:
                break
        return self.take_output()

    def _event(self, event) -> None:
        if isinstance(event, framing.Frame):
            self.transcript.add(event.segments, event.literals)
            try:
                command = parse_command(event)
            except ParseError as exc:
                for literal in event.literals:  # a spooled APPEND that will not happen
                    if not isinstance(literal, bytes):
                        literal.discard()
                self._parse_error(exc)
                return
            self.run(command)
        elif isinstance(event, framing.LineTooLong):
            self._bad(tag_of(event.head), "Too long command line")
        elif isinstance(event, framing.Rejected):
            self.send(event.response)
            if event.fatal:
                self.state = State.LOGOUT
            else:
                self._count_bad()

    def _parse_error(self, exc: ParseError) -> None:
        """A malformed command. In a state that refuses the command anyway, say that instead.

        Dovecot checks the state first: arguments fixed would still be refused, so the
        state is the more useful answer. The whole command, literals included, has
        been read by now, so answering either way keeps the framing in step.
        """
        if exc.lone_word and self.state is State.NOT_AUTHENTICATED:
            # before login a lone word may be a SASL response sent without waiting for
            # the "+" of a refused AUTHENTICATE: never echo it back as a tag
            self._bad(None, exc.text)
            return
        entry = self.table.get(exc.name) if exc.name else None
        if entry is not None and self.state not in entry.states:
            assert exc.command is not None
            self._bad(exc.tag, self._wrong_state(exc.command, entry.states))
            return
        self._bad(exc.tag, exc.text, exc.command)

    def _bad(self, tag: str | None, text: str, command: str | None = None) -> None:
        """``BAD Error in IMAP command NAME: text``, as Dovecot words it (the name if known)."""
        prefix = tag if tag else "*"
        where = f" {command}" if command else ""
        line = f"{prefix} BAD Error in IMAP command{where}: {text}\r\n"
        self.send(line.encode("ascii", "backslashreplace"))
        self._count_bad()

    def _count_bad(self) -> None:
        self.bad_in_a_row += 1
        if self.bad_in_a_row >= MAX_BAD_IN_A_ROW:
            self.send(b"* BYE Too many invalid IMAP commands.\r\n")
            self.state = State.LOGOUT

    def _literal_policy(self, request: framing.LiteralRequest) -> framing.Accept | framing.Refuse:
        tag = tag_of(request.head) or "*"
        words = request.head.split(b" ", 3)
        name = words[1].upper() if len(words) > 1 else b""
        if name == b"UID" and len(words) > 2:
            name = words[2].upper()
        # a refused non-sync literal is discarded by the framer (up to max_discard)
        if name == b"APPEND" and self.state in AUTH:
            if request.size > self.limits.max_append:
                return framing.Refuse(
                    f"{tag} NO [TOOBIG] Message is larger than APPENDLIMIT\r\n".encode())
            if request.size > self.limits.max_literal:
                from imapsession.commands.append_spool import new_append_spool

                assert self.store is not None
                return framing.Accept(new_append_spool(self.store, request.head))
            return framing.Accept()
        if request.size > self.limits.max_literal:
            return framing.Refuse(f"{tag} BAD [TOOBIG] Literal too large\r\n".encode())
        return framing.Accept()

    # --- running commands ----------------------------------------------------------------

    def run(self, command: Command) -> None:
        entry = self.table.get(command.name)
        if entry is None:
            self._bad(command.tag, f"Unknown command {command.name}")
            return
        if self.state not in entry.states:
            shown = f"UID {command.name}" if command.uid else command.name
            self._bad(command.tag, self._wrong_state(shown, entry.states))
            return
        self.bad_in_a_row = 0
        done = self._dispatch(command, entry)
        if done is None:  # the command continues (IDLE, AUTHENTICATE, a login)
            return
        self.finish(command, done)

    def finish(self, command: Command, done: Done) -> None:
        if self.view is not None and self.state is State.SELECTED and command.name != "LOGOUT":
            from imapsession.storage.base import NoSuchMailbox

            allow = command.uid or not self.table[command.name].holds_expunges
            try:
                for line in self.view.refresh(allow, with_uid=command.uid):
                    self.send(line)
            except NoSuchMailbox:
                # another session deleted or renamed it: nothing left to show (as Dovecot)
                self.send(b"* BYE Selected mailbox was deleted, have to disconnect.\r\n")
                self.logout()
            except Exception:  # noqa: BLE001 - reported like any internal error
                done = self.internal_error(command)
        if done.status == "BAD":
            self._count_bad()
        self.send(done.line(command.tag))
        self._show(None)

    def _show(self, command: str | None) -> None:
        """Tell the process-title hook what runs now (None: waiting for the client), and where."""
        if self.on_command is not None:
            self.on_command(command, self.view.mailbox.name if self.view is not None else None)

    def _wrong_state(self, name: str, states: frozenset[State]) -> str:
        if self.state is State.NOT_AUTHENTICATED:
            return f"{name} is not allowed before authentication"
        if states == SELECTED:
            return f"{name} needs a selected mailbox"
        if states == NOT_AUTH:
            return f"{name} is not allowed after authentication"
        return f"{name} is not allowed in the {self.state.value} state"

    def _dispatch(self, command: Command, entry: CommandEntry) -> Done | None:
        from imapsession.storage.base import StorageError

        handler = getattr(_handler_module(entry), handler_name(command.name))
        self._show(command.name)
        try:
            if command.name in self.faults:
                from imapsession.observe.faults import inject

                inject(self.faults[command.name], command)
            return handler(self, command)
        except CommandError as exc:
            return exc.done
        except StorageError as exc:
            return no(exc.text, exc.code)
        except Exception:  # noqa: BLE001 - every failure is answered, never a traceback
            return self.internal_error(command)

    def internal_error(self, command: Command) -> Done:
        """Answer a failed command as Dovecot does, log it with locals, write a crash report.

        Where the failure leaves the state untrusted the session ends with BYE.
        """
        import sys

        from imapsession.observe.crash import traceback_with_locals
        from imapsession.storage.base import StateUntrusted

        exc = sys.exc_info()[1]
        assert exc is not None
        log.error("Internal error in %s: %s", command.name, traceback_with_locals(exc))
        if self.crash_reporter is not None:
            try:
                path = self.crash_reporter(exc, self)
                log.error("Crash report written to %s", path)
            except Exception as report_error:  # noqa: BLE001 - never worse than the crash
                log.error("Could not write a crash report: %s", report_error)
        if isinstance(exc, StateUntrusted):
            self.send(b"* BYE Internal error\r\n")
            self.leave_selected()
            self.state = State.LOGOUT
            self.exit_status = 1
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.clock()))
        return no(
            f"Internal error occurred. Refer to server log for more information. [{stamp}]",
            "SERVERBUG",
        )

    # --- state changes (only here) ------------------------------------------------------

    def enter_selected(self, view: MailboxView) -> None:
        self.leave_selected()
        self.view = view
        self.state = State.SELECTED

    def leave_selected(self) -> None:
        if self.view is not None:
            self.view.mailbox.close()
        self.view = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    def logout(self) -> None:
        self.leave_selected()
        self.state = State.LOGOUT

    # --- a command that reads the input itself --------------------------------------------

    def take_over_input(self, command: Command) -> None:
        """Until ``release_input``, received bytes go to ``command``'s module's ``consume``.

        Only a command the table flags ``takes_over_input`` may (IDLE, AUTHENTICATE).
        """
        if not self.table[command.name].takes_over_input:
            raise AssertionError(f"{command.name} may not take over the input (command table)")
        self.input_owner = command
        self.input_owner_buffer = b""

    def release_input(self) -> Command:
        """Give the input back to the framer; returns the command that had it."""
        command = self.input_owner
        assert command is not None
        self.input_owner = None
        self.input_owner_buffer = b""
        return command

    def _input_consumer(self) -> Callable[[Session, bytes], bytes]:
        assert self.input_owner is not None
        module = _handler_module(self.table[self.input_owner.name])
        return getattr(module, INPUT_ENTRY_POINT)

    # --- login mode: commands/auth.py asks, login.py answers ------------------------------

    def request_login(self, command: Command, request: object) -> None:
        """Hold the command (and all input after it) until login.py has a verdict."""
        self.pending_login = (command, request)

    def unread(self) -> bytes:
        """Bytes received and not yet framed, for whoever continues the session."""
        return bytes(self.framer._buffer)  # noqa: SLF001 - the framer has no accessor yet

    def take_unread(self) -> bytes:
        data = self.unread()
        del self.framer._buffer[:]  # noqa: SLF001
        return data

    def login_failed(self, done: Done, final: bool) -> None:
        """Answer the pending login; ``final``: that was the last allowed attempt."""
        assert self.pending_login is not None
        command = self.pending_login[0]
        self.pending_login = None
        self.finish(command, done)
        if final:
            self.send(b"* BYE Too many invalid authentication attempts.\r\n")
            self.state = State.LOGOUT

    def complete_login(self, tag: str, store: MailStore, user: str) -> None:
        """NOT_AUTHENTICATED -> AUTHENTICATED, in the process that now runs as ``user``."""
        self.pending_login = None
        self.store = store
        self.user = user
        self.state = State.AUTHENTICATED
        caps = " ".join(self.capabilities())
        self.send(f"{tag} OK [CAPABILITY {caps}] Logged in\r\n".encode())
