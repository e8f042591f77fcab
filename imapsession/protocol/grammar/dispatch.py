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
from imapsession.protocol.grammar.echo import shown, token_at
from imapsession.protocol.grammar.reader import ParseError, Reader


def parse_command(frame: Frame) -> Command:
    """Parse one framed command. Raises ``ParseError`` (with ``tag`` when known)."""
    reader = Reader(frame)
    tag = None
    shown_name = name = None
    try:
        tag = reader.tag()
        if reader.at_end():
            raise ParseError("Missing command name", lone_word=True)
        reader.sp("command name")
        name = _command_name(reader, "command name")
        uid = False
        if name == "UID":
            shown_name = "UID"
            reader.sp("UID command (FETCH, STORE, COPY, MOVE, SEARCH or EXPUNGE)")
            uid = True
            name = _command_name(reader, "UID command")
            if name not in _UID_COMMANDS:
                raise ParseError(f"Unknown UID command {shown(name)}")
            shown_name = f"UID {name}"
        parser = _PARSERS.get(name)
        if parser is None:
            raise ParseError(f"Unknown command {shown(name)}")
        shown_name = shown_name or name
        reader.secret = name in SECRET_ARGUMENTS
        args = parser(reader, uid)
        reader.end()
        return Command(tag, name, args, uid)
    except ParseError as exc:
        exc.tag = tag
        exc.command = shown_name
        exc.name = name if shown_name else None
        raise


def _command_name(reader: Reader, what: str) -> str:
    """A command name: an atom ending at a space or the end (``FROB\x01`` is not ``FROB``)."""
    start = reader.pos
    name = reader.atom(what).upper()
    if reader.peek() not in (0x20, None):
        raise ParseError(f"Invalid {what} {shown(token_at(reader.line, start))}")
    return name


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
# commands whose arguments a BAD answer never shows back (a password, SASL data)
SECRET_ARGUMENTS = frozenset({"LOGIN", "AUTHENTICATE"})
