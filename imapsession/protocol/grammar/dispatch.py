"""The command table: from a command name (and the UID prefix) to its family's parser."""

from __future__ import annotations

from imapsession.protocol.command import Command
from imapsession.protocol.framing import Frame
from imapsession.protocol.grammar import any as any_state
from imapsession.protocol.grammar import (
    append,
    auth,
    copy_move,
    expunge,
    fetch,
    mailbox,
    search,
    store,
)
from imapsession.protocol.grammar import list as list_mailboxes
from imapsession.protocol.grammar.reader import ParseError, Reader


def parse_command(frame: Frame) -> Command:
    """Parse one framed command. Raises ``ParseError`` (with ``tag`` when known)."""
    reader = Reader(frame)
    tag = None
    try:
        tag = reader.tag()
        if reader.at_end():
            raise ParseError("Missing command name")
        reader.sp()
        name = reader.atom("a command name").upper()
        uid = False
        if name == "UID":
            reader.sp()
            uid = True
            name = reader.atom("a command name").upper()
            if name not in _UID_COMMANDS:
                raise ParseError(f"Unknown UID command {name}")
        parser = _PARSERS.get(name)
        if parser is None:
            raise ParseError(f"Unknown command {name[:40]}")
        args = parser(reader, uid)
        reader.end()
        return Command(tag, name, args, uid)
    except ParseError as exc:
        exc.tag = tag
        raise


def command_names() -> tuple[str, ...]:
    """Every command the grammar parses (the fuzzer's strategies must cover each)."""
    return tuple(sorted(_PARSERS))


# each family's module holds its commands' entries
_PARSERS = {
    **any_state.PARSERS, **auth.PARSERS, **mailbox.PARSERS, **list_mailboxes.PARSERS,
    **append.PARSERS, **fetch.PARSERS, **store.PARSERS, **copy_move.PARSERS,
    **expunge.PARSERS, **search.PARSERS,
}
_UID_COMMANDS = {"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE"}
UID_COMMANDS = frozenset(_UID_COMMANDS)
