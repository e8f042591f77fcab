"""The command table: which states accept each command, and which module handles it.

A new command is one module here in ``commands/`` plus one entry below. The
session is given this table (``Session(..., table=COMMANDS)``) and imports a
handler module only when its command first arrives, so the greeting never
waits for handler imports. A handler module defines ``handle_<name>`` (the
command's name in lower case) for each command it is listed for; a command
that may take over the input stream (IDLE until DONE, AUTHENTICATE until its
response line) has its module define ``consume(session, data)`` too, which the
session feeds every byte until the command gives the input back.

``import-linter`` does not see these ``importlib`` loads:
tests/test_command_table.py checks every entry instead.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

import attrs


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})

HANDLERS_PACKAGE = "imapsession.commands"
INPUT_ENTRY_POINT = "consume"  # what a module whose command takes over the input defines


def handler_name(command: str) -> str:
    """The function a handler module defines for ``command``: ``handle_fetch`` for FETCH."""
    return "handle_" + command.lower()


@attrs.frozen
class CommandEntry:
    """One command: where it is accepted, who handles it, how it may use the input."""

    states: frozenset[State]  # the states that accept it
    module: str  # the handler module, inside imapsession.commands
    takes_over_input: bool = False  # reads the input itself through ``consume`` for a while
    # RFC 3501 7.4.1: no EXPUNGE while answering it (its UID form may have one)
    holds_expunges: bool = False


COMMANDS: Mapping[str, CommandEntry] = MappingProxyType({
    "CAPABILITY": CommandEntry(ANY, "imapsession.commands.any"),
    "NOOP": CommandEntry(ANY, "imapsession.commands.any"),
    "LOGOUT": CommandEntry(ANY, "imapsession.commands.any"),
    "ID": CommandEntry(ANY, "imapsession.commands.any"),
    "ENABLE": CommandEntry(AUTH, "imapsession.commands.any"),
    "STARTTLS": CommandEntry(NOT_AUTH, "imapsession.commands.auth"),
    "LOGIN": CommandEntry(NOT_AUTH, "imapsession.commands.auth"),
    "AUTHENTICATE": CommandEntry(NOT_AUTH, "imapsession.commands.auth", takes_over_input=True),
    "SELECT": CommandEntry(AUTH, "imapsession.commands.select"),
    "EXAMINE": CommandEntry(AUTH, "imapsession.commands.select"),
    "CREATE": CommandEntry(AUTH, "imapsession.commands.mailbox"),
    "DELETE": CommandEntry(AUTH, "imapsession.commands.mailbox"),
    "RENAME": CommandEntry(AUTH, "imapsession.commands.mailbox"),
    "SUBSCRIBE": CommandEntry(AUTH, "imapsession.commands.mailbox"),
    "UNSUBSCRIBE": CommandEntry(AUTH, "imapsession.commands.mailbox"),
    "LIST": CommandEntry(AUTH, "imapsession.commands.list"),
    "LSUB": CommandEntry(AUTH, "imapsession.commands.list"),
    "NAMESPACE": CommandEntry(AUTH, "imapsession.commands.list"),
    "STATUS": CommandEntry(AUTH, "imapsession.commands.select"),
    "APPEND": CommandEntry(AUTH, "imapsession.commands.append"),
    "IDLE": CommandEntry(AUTH, "imapsession.commands.idle", takes_over_input=True),
    "CHECK": CommandEntry(SELECTED, "imapsession.commands.select"),
    "CLOSE": CommandEntry(SELECTED, "imapsession.commands.select"),
    "UNSELECT": CommandEntry(SELECTED, "imapsession.commands.select"),
    "EXPUNGE": CommandEntry(SELECTED, "imapsession.commands.expunge"),
    "SEARCH": CommandEntry(SELECTED, "imapsession.commands.search", holds_expunges=True),
    "FETCH": CommandEntry(SELECTED, "imapsession.commands.fetch", holds_expunges=True),
    "STORE": CommandEntry(SELECTED, "imapsession.commands.store", holds_expunges=True),
    "COPY": CommandEntry(SELECTED, "imapsession.commands.copy_move"),
    "MOVE": CommandEntry(SELECTED, "imapsession.commands.copy_move"),
})
