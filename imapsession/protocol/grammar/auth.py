"""LOGIN and AUTHENTICATE (with its SASL initial response)."""

from __future__ import annotations

from imapsession.protocol.grammar.reader import ParseError, Reader


def _login(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    user = reader.astring("a user name")
    reader.sp()
    password = reader.astring("a password")
    return (user, password)


def _authenticate(reader: Reader, uid: bool) -> tuple:
    reader.sp()
    mechanism = reader.atom("a SASL mechanism").upper()
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
