"""The fuzzer draws from the grammar's own tables, and every table entry has a handler.

A grammar that accepts what no command handles answers ``NO [SERVERBUG]`` (as
``FETCH 1 (MODSEQ)`` did): so each table entry must be drawn by a strategy (these
tests fail when a table gains an entry, or a shape, the strategies cannot draw),
and each must get a real answer from a session.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import strategies as fst
from imapsession.commands.select import STATUS_VALUES
from imapsession.protocol.command import FetchItem, SearchKey
from imapsession.protocol.grammar import dispatch, fetch, mailbox, search, store

DRAWS = settings(max_examples=3000, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))


def _collect(strategy, into: set, key) -> None:
    @DRAWS
    @given(strategy)
    def draw(value):
        into.update(key(value))
    draw()


def _names_in(key: SearchKey):
    yield key.name
    for arg in key.args:
        if isinstance(arg, SearchKey):
            yield from _names_in(arg)


def test_every_grammar_command_is_drawn():
    seen: set[str] = set()
    _collect(fst.commands(), seen, lambda c: [("UID " if c.uid else "") + c.name])
    expected = set(dispatch.command_names()) | {"UID " + n for n in dispatch.UID_COMMANDS}
    assert expected == seen


def test_every_fetch_attribute_section_and_macro_is_drawn():
    seen: set[str] = set()

    def names(items: tuple[FetchItem, ...]):
        out = [i.name for i in items]
        out += [i.section.text for i in items if i.section is not None and i.section.text]
        out += [m for m, names in fetch.FETCH_MACROS.items()
                if tuple(i.name for i in items) == names]
        return out
    _collect(fst.fetch_item_lists, seen, names)
    expected = (set(fetch.FETCH_ATTRIBUTES) | {a + "[]" for a in fetch.SECTIONED_ATTRIBUTES}
                | set(fetch.SECTION_TEXTS) | set(fetch.FETCH_MACROS))
    assert expected <= seen, sorted(expected - seen)
    assert not set(fetch.NOT_SUPPORTED) & seen


def test_every_search_key_and_shape_is_drawn():
    shapes = set(search.SEARCH_KEYS.values())
    assert shapes <= set(fst.search_leaf_arguments(st.just("x"))) | set(fst.SEARCH_NESTING)
    seen: set[str] = set()
    _collect(fst.search_args(), seen, lambda args: _names_in(args[1]))
    assert set(search.SEARCH_KEYS) | {"SEQSET", "AND"} <= seen, \
        sorted(set(search.SEARCH_KEYS) - seen)


def test_every_store_mode_and_status_item_is_drawn():
    seen: set[object] = set()
    _collect(fst.commands(), seen, lambda c: (
        [("store", c.args[1], c.args[2])] if c.name == "STORE" else
        [("status", i) for i in c.args[1]] if c.name == "STATUS" else []))
    modes = {("store", m, s) for m in store.STORE_MODES.values() for s in (False, True)}
    items = {("status", i) for i in mailbox.STATUS_ITEMS}
    assert modes | items <= seen, sorted(map(str, modes | items - seen))


def test_status_answers_exactly_the_grammar_items():
    assert set(STATUS_VALUES) == set(mailbox.STATUS_ITEMS)


# --- every table entry gets a real answer -------------------------------------------------


MESSAGE = b"From: a@example.org\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nbody\r\n"


def _session(tmp_path):
    from imapsession.session import Session
    from imapsession.storage.maildir import open_maildir

    root = os.path.join(tmp_path, "M")
    os.makedirs(root)
    session = Session(open_maildir(root), "fuzz")
    session.greeting()
    session.receive(b"a APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
    assert b"s OK" in session.receive(b"s SELECT INBOX\r\n")
    return session


def test_every_fetch_table_entry_is_answered(tmp_path):
    session = _session(tmp_path)
    items = [*fetch.FETCH_ATTRIBUTES, *fetch.FETCH_MACROS, "BODY[]", "BODY.PEEK[1]",
             "BINARY.PEEK[1]", "BINARY.SIZE[1]", "BODY.PEEK[1.MIME]",
             *[f"BODY.PEEK[{t}]" for t in fetch.SECTION_TEXTS if t != "MIME"
               and not t.startswith("HEADER.FIELDS")],
             "BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]"]
    for item in items:
        out = session.receive(b"f FETCH 1 " + item.encode() + b"\r\n")
        assert out.endswith(b"f OK Fetch completed.\r\n") and b"* 1 FETCH" in out, (item, out)


def test_every_search_key_is_answered(tmp_path):
    session = _session(tmp_path)
    sample = {"none": "", "string": ' "x"', "date": " 1-Jan-2026", "number": " 10",
              "flag": " k1", "field and string": ' Subject "s"', "sequence set": " 1:*",
              "key": " ALL", "two keys": " ALL SEEN"}
    for name, shape in search.SEARCH_KEYS.items():
        out = session.receive(f"s SEARCH {name}{sample[shape]}\r\n".encode())
        assert out.endswith(b"s OK Search completed.\r\n"), (name, out)


def test_what_needs_condstore_is_refused_with_the_reason(tmp_path):
    session = _session(tmp_path)
    for line in (b"m FETCH 1 (MODSEQ)", b"m FETCH 1 MODSEQ", b"m STATUS INBOX (HIGHESTMODSEQ)"):
        out = session.receive(line + b"\r\n")
        assert out.startswith(b"m BAD ") and b"CONDSTORE" in out, out


def test_a_simple_item_asked_twice_is_answered_once(tmp_path):
    """As Dovecot: UID and FLAGS once each; a section asked twice comes twice."""
    session = _session(tmp_path)
    out = session.receive(b"d FETCH 1 (UID UID FLAGS FLAGS BODY.PEEK[1] BODY.PEEK[1])\r\n")
    assert out.count(b"UID 1") == 1 and out.count(b"FLAGS (") == 1, out
    assert out.count(b"BODY[1] ") == 2, out
