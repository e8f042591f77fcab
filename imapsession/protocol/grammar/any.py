"""Commands of any state and those without arguments: CAPABILITY, NOOP, LOGOUT, ID, ENABLE..."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader


def _no_args(reader: Reader, uid: bool) -> tuple:
    if not reader.at_end():
        raise ParseError(f"Expected no arguments, found {reader.found_after_space()}")
    return ()


def _id(reader: Reader, uid: bool) -> tuple:
    reader.sp("ID parameter list or NIL")
    if reader.maybe_ci(b"NIL"):
        return (None,)
    reader.open_paren("ID parameter list '(' or NIL")
    params = []
    if not reader.maybe(b")"):
        while True:
            key = reader.string("ID field name")
            reader.sp("ID field value")
            value = reader.nstring_or_nil("ID field value")
            params.append((key.decode("utf-8", "replace"),
                           None if value is None else value.decode("utf-8", "replace")))
            if not reader.list_continues("ID field name"):
                break
    reader.depth -= 1
    if len(params) > 30:
        raise ParseError("Too many ID parameters (at most 30)")
    return (tuple(params),)


def _enable(reader: Reader, uid: bool) -> tuple:
    caps = []
    while reader.maybe(b" "):
        caps.append(reader.atom("capability name").upper())
    if not caps:
        raise reader.missing_or_expected("capability names to enable")
    return (tuple(caps),)


PARSERS = {
    "CAPABILITY": _no_args, "NOOP": _no_args, "LOGOUT": _no_args, "CHECK": _no_args,
    "CLOSE": _no_args, "UNSELECT": _no_args, "NAMESPACE": _no_args, "IDLE": _no_args,
    "STARTTLS": _no_args, "ID": _id, "ENABLE": _enable,
}
