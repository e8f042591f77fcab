"""What a command handler sees of the session: the contract between the two.

Handlers are written against ``HandlerSession``, never against the session
class, so ``commands/`` does not import ``session.py`` (the session imports the
command table instead: one direction). ``session.Session`` is the one
implementation; tests/test_command_table.py checks that it has every member.
State changes stay in the session: a handler asks for them through the methods
below and never assigns ``state`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imapsession.commands.results import Done
    from imapsession.protocol.command import Command
    from imapsession.storage.base import MailStore
    from imapsession.view import MailboxView


@runtime_checkable
class HandlerSession(Protocol):
    """The part of the session a handler in ``commands/`` may use."""

    store: MailStore | None  # None before login (login mode)
    view: MailboxView | None  # the selected mailbox, if any
    enabled: set[str]  # ENABLEd extensions (RFC 5161)
    enableable: frozenset[str]  # what ENABLE may turn on
    expunged_total: int  # for the disconnect log line
    login_secure: bool | None  # None: LOGIN/AUTHENTICATE not offered; else a secure transport?
    # while a command has taken over the input (take_over_input): that command, and the
    # incomplete line it has read so far
    input_owner: Command | None
    input_owner_buffer: bytes

    # --- output
    def send(self, data: bytes) -> None: ...
    def take_output(self) -> bytes: ...
    def capabilities(self) -> list[str]: ...

    # --- completion of a command that continued (IDLE, AUTHENTICATE): the sync point,
    # then the tagged line
    def finish(self, command: Command, done: Done) -> None: ...

    # --- state changes (made by the session)
    def enter_selected(self, view: MailboxView) -> None: ...
    def leave_selected(self) -> None: ...
    def logout(self) -> None: ...

    # --- login mode: hold the command until login.py has a verdict
    def request_login(self, command: Command, request: object) -> None: ...

    # --- the input stream, for a command the table flags ``takes_over_input``
    def take_over_input(self, command: Command) -> None: ...
    def release_input(self) -> Command: ...
