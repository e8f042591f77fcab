"""LOGIN and AUTHENTICATE (with its SASL initial response)."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader


def _login(reader: Reader, uid: bool) -> tuple:
    # the reader is secret here (dispatch.SECRET_ARGUMENTS): no error shows these bytes
    reader.sp("user name")
    user = reader.astring("user name")
    reader.sp("password")
    password = reader.astring("password")
    return (user, password)


def _authenticate(reader: Reader, uid: bool) -> tuple:
    reader.sp("SASL mechanism name")
    mechanism = reader.atom("SASL mechanism name").upper()
    initial = None
    if reader.maybe(b" "):
        if reader.maybe(b"="):
            initial = b""
        else:
            initial = reader.run(frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="))
            if not initial:
                raise ParseError("Invalid SASL initial response")
    return (mechanism, initial)


PARSERS = {"LOGIN": _login, "AUTHENTICATE": _authenticate}
