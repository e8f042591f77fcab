"""The parser target's properties, and the strict response parser's own teeth."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import parser_target
from fuzz import strategies as fst
from fuzz.responses import ResponseSyntaxError, parse_response, split_responses


@settings(max_examples=300, deadline=None)
@given(fst.commands(), st.integers(0, 2**32))
def test_valid_commands_round_trip(command, r):
    parser_target.check_roundtrip(command, random.Random(r))


@settings(max_examples=150, deadline=None)
@given(fst.broken_commands(parser_target.encoded_commands()))
def test_broken_input_only_yields_commands_or_parse_errors(chunk):
    parser_target.check_broken(chunk)


@pytest.mark.parametrize("line", [
    b"* 3 EXISTS\r\n", b"a1 OK [APPENDUID 7 12] Append completed.\r\n",
    b"* OK [COPYUID 7 1:3 10:12] Moved UIDs.\r\n",
    b"* 1 FETCH (UID 4 FLAGS (\\Seen kw \\Recent) RFC822.SIZE 10)\r\n",
    b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n", b'* STATUS "a b" (MESSAGES 1 UIDNEXT 2)\r\n',
    b'* LIST (\\HasNoChildren) "/" INBOX\r\n', b'* NAMESPACE (("" "/")) NIL NIL\r\n',
    b"+ OK\r\n", b"* SEARCH 1 2 3\r\n",
])
def test_strict_parser_accepts_rfc_responses(line):
    raws, rest = split_responses(line)
    assert rest == b"" and len(raws) == 1
    parse_response(raws[0])


@pytest.mark.parametrize("line", [
    b"BAD Too many literals in one command\r\n", b"a1 OK\r\n", b"a1 OK \xc3\xa9\r\n",
    b'* 1 FETCH (FLAGS (\\Seen) BODY[] "a\xffb")\r\n', b"* 0 EXPUNGE\r\n",
    b"* OK [COPYUID 7 1:3 10] x\r\n", b"* 1 FETCH (UID 0)\r\n", b'* SEARCH 0\r\n',
    b"* LIST (\\Bogus) \"/\" INBOX\r\n", b"* OK [UIDNEXT 0] x\r\n",
])
def test_strict_parser_refuses_what_the_grammar_forbids(line):
    with pytest.raises(ResponseSyntaxError):
        parse_response(line)
