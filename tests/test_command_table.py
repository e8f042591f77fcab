"""The command table (commands/table.py): every entry names a real handler inside commands/.

import-linter cannot see the session's ``importlib`` loads, so this test checks
them: each module path is inside ``imapsession.commands``, imports, and defines
``handle_<name>`` for every command listed for it, and ``consume`` when the
command may take over the input. The check is also run on planted bad tables,
so that it is known to fail when it should.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from imapsession.commands.context import HandlerSession
from imapsession.commands.table import (
    ANY,
    AUTH,
    COMMANDS,
    HANDLERS_PACKAGE,
    INPUT_ENTRY_POINT,
    SELECTED,
    CommandEntry,
    handler_name,
)
from imapsession.session import Session, State

REPO = Path(__file__).resolve().parent.parent


def table_problems(table: Mapping[str, CommandEntry]) -> list[str]:
    """What is wrong with ``table``, one line per problem (empty: nothing)."""
    problems = []
    for name, entry in table.items():
        if not entry.module.startswith(HANDLERS_PACKAGE + "."):
            problems.append(f"{name}: {entry.module} is not inside {HANDLERS_PACKAGE}")
            continue
        try:
            module = importlib.import_module(entry.module)
        except ImportError as exc:
            problems.append(f"{name}: {entry.module} does not import: {exc}")
            continue
        if not callable(getattr(module, handler_name(name), None)):
            problems.append(f"{name}: {entry.module} defines no {handler_name(name)}")
        if entry.takes_over_input and not callable(getattr(module, INPUT_ENTRY_POINT, None)):
            problems.append(f"{name}: takes over the input but {entry.module} "
                            f"defines no {INPUT_ENTRY_POINT}")
        if not entry.states:
            problems.append(f"{name}: no state accepts it")
    return problems


def test_every_entry_names_a_handler_inside_commands():
    assert table_problems(COMMANDS) == []


@pytest.mark.parametrize("planted, problem", [
    ({"FETCH": CommandEntry(SELECTED, "imapsession.storage.base")},
     "FETCH: imapsession.storage.base is not inside imapsession.commands"),
    ({"FETCH": CommandEntry(SELECTED, "imapsession.commandsx.fetch")},
     "FETCH: imapsession.commandsx.fetch is not inside imapsession.commands"),
    ({"FROB": CommandEntry(AUTH, "imapsession.commands.any")},
     "FROB: imapsession.commands.any defines no handle_frob"),
    ({"NOOP": CommandEntry(ANY, "imapsession.commands.nonexistent")},
     "NOOP: imapsession.commands.nonexistent does not import"),
    ({"NOOP": CommandEntry(ANY, "imapsession.commands.any", takes_over_input=True)},
     "NOOP: takes over the input but imapsession.commands.any defines no consume"),
    ({"NOOP": CommandEntry(frozenset(), "imapsession.commands.any")},
     "NOOP: no state accepts it"),
])
def test_the_check_fails_on_a_planted_bad_entry(planted, problem):
    table = {**COMMANDS, **planted}
    found = table_problems(table)
    assert len(found) == 1 and found[0].startswith(problem), found


def test_the_session_implements_what_handlers_see():
    assert isinstance(Session(None, None), HandlerSession)


def test_the_session_runs_the_table_it_is_given():
    table = {name: entry for name, entry in COMMANDS.items() if name != "NOOP"}
    session = Session(None, None, table=table)
    assert session.receive(b"a NOOP\r\nb CAPABILITY\r\n").splitlines()[0] == (
        b"a BAD Error in IMAP command: Unknown command NOOP")


def test_only_a_flagged_command_may_take_over_the_input():
    # IDLE without the flag: the handler's take_over_input is refused (an internal error)
    table = {**COMMANDS, "IDLE": CommandEntry(AUTH, "imapsession.commands.idle")}
    session = Session(None, None, table=table)
    session.state = State.AUTHENTICATED
    out = session.receive(b"a IDLE\r\nDONE\r\n")
    assert b"a NO [SERVERBUG]" in out and session.input_owner is None


def test_no_handler_module_is_imported_before_a_command_arrives():
    handlers = sorted({entry.module for entry in COMMANDS.values()})
    code = ("import sys, imapsession.session, imapsession.driver\n"
            f"print([m for m in {handlers!r} if m in sys.modules])\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=str(REPO))
    assert out.stdout.strip() == "[]"
