"""Hypothesis strategies for every command the grammar accepts, valid and broken.

Valid commands are drawn as ``Command`` values in exactly the shape
``grammar.parse_command`` yields (see its table), so the parser target can
check ``parse(encode(c)) == c``. The vocabulary comes from the grammar's own
tables (commands, FETCH attributes and sections, search keys, STORE modes,
STATUS items), so whatever the grammar accepts is generated, and something it
accepts that no command handles shows up as a failure (the grammar-table test
fails when a table gains an entry these strategies cannot draw). Broken input is drawn as raw bytes: valid
commands truncated or spliced with NUL, 8-bit, CR/LF; literal sizes that are
huge, negative, signed or not numbers; deep nesting; thousands of literals;
over-long lines (the shapes of Dovecot CVE-2019-11500, Cyrus CVE-2024-34055,
Dovecot CVE-2026-27857 and Twisted's ``SEARCH {-100}``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import strategies as st

from fuzz.wire import ASTRING_CHARS, ATOM_CHARS
from imapsession.protocol.command import Command, FetchItem, SearchKey
from imapsession.protocol.grammar import dispatch, fetch, mailbox, search, store
from imapsession.protocol.types import Section, SequenceSet

_ATOM_TEXT = "".join(chr(c) for c in sorted(ATOM_CHARS))
_ASTRING_TEXT = "".join(chr(c) for c in sorted(ASTRING_CHARS))

tags = st.text(alphabet=_ASTRING_TEXT.replace("+", ""), min_size=1, max_size=8)
atoms = st.text(alphabet=_ATOM_TEXT, min_size=1, max_size=12)
keywords = st.sampled_from(["$Junk", "$Forwarded", "work", "k1", "k2", "Later", "a.b"]) | atoms
system_flags = st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"])
flags = st.frozensets(system_flags | keywords, max_size=5)
# octets a literal or quoted string may hold (no NUL; 8-bit and CR/LF go as literals)
octets = st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"x"))
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=20)


def _mailbox_name(text: str) -> str:
    return "INBOX" if text.upper() == "INBOX" else text


mailbox_names = (
    st.sampled_from(["INBOX", "inbox", "Sent", "a/b", "Trash", "&AOk-t&AOk-", "\"q\"", "sp ace", ""])
    | texts
).map(_mailbox_name)

numbers = st.integers(min_value=1, max_value=2**32 - 1)
small_numbers = st.integers(min_value=1, max_value=20)
seq_values = st.none() | small_numbers | numbers
sequence_sets = st.lists(st.tuples(seq_values, seq_values) | seq_values.map(lambda v: (v, v)),
                         min_size=1, max_size=4).map(lambda r: SequenceSet(tuple(r)))

header_fields = st.lists(st.sampled_from(["SUBJECT", "FROM", "X-FUZZ-ID", "DATE"])
                         | atoms.map(str.upper), min_size=1, max_size=3)


@st.composite
def sections(draw, binary: bool = False) -> Section:
    part = tuple(draw(st.lists(small_numbers, max_size=3)))
    if binary:
        return Section(part)
    text = draw(st.sampled_from([None, *[t for t in fetch.SECTION_TEXTS
                                         if t != "MIME" or part]]))
    fields = tuple(draw(header_fields)) if text and text.startswith("HEADER.FIELDS") else ()
    return Section(part, text, fields)


partials = st.none() | st.tuples(st.integers(0, 2**32 - 1), numbers)


@st.composite
def fetch_items(draw) -> FetchItem:
    kind = draw(st.sampled_from(("simple",) + fetch.SECTIONED_ATTRIBUTES))
    if kind == "simple":
        return FetchItem(draw(st.sampled_from(fetch.FETCH_ATTRIBUTES)))
    if kind == "BODY":
        return FetchItem("BODY[]", draw(sections()), draw(partials), draw(st.booleans()))
    if kind == "BINARY":
        return FetchItem("BINARY[]", draw(sections(binary=True)), draw(partials), draw(st.booleans()))
    if kind == "BINARY.SIZE":
        return FetchItem("BINARY.SIZE[]", draw(sections(binary=True)))
    raise ValueError(f"no strategy for the sectioned FETCH attribute {kind}")


# a FETCH macro parses to its expansion: the same Command as the items spelt out
fetch_macros = st.sampled_from(sorted(fetch.FETCH_MACROS)).map(
    lambda m: tuple(FetchItem(name) for name in fetch.FETCH_MACROS[m]))
fetch_item_lists = st.lists(fetch_items(), min_size=1, max_size=5).map(tuple) | fetch_macros


dates = st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31))
date_times = st.builds(
    lambda d, s, off: datetime(d.year, d.month, d.day, tzinfo=timezone(timedelta(minutes=off)))
    + timedelta(seconds=s),
    dates, st.integers(0, 86399), st.integers(-720, 720).map(lambda m: m - m % 15))


def search_keys(charset: str | None) -> st.SearchStrategy[SearchKey]:
    text = st.text(st.characters(max_codepoint=0x7E if charset == "US-ASCII" else 0x10FFFF,
                                 blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=10)
    leaf_args = search_leaf_arguments(text)
    by_shape: dict[str, list[str]] = {}
    for name, shape in search.SEARCH_KEYS.items():
        by_shape.setdefault(shape, []).append(name)
    leaves = st.one_of(
        *[st.builds(lambda n, a: SearchKey(n, a), st.sampled_from(names), leaf_args[shape])
          for shape, names in sorted(by_shape.items()) if shape not in SEARCH_NESTING],
        st.builds(lambda s: SearchKey("SEQSET", (s,)), sequence_sets),
    )
    return st.recursive(leaves, lambda inner: st.one_of(
        *[st.builds(lambda n, a: SearchKey(n, a), st.sampled_from(names),
                    SEARCH_NESTING[shape](inner))
          for shape, names in sorted(by_shape.items()) if shape in SEARCH_NESTING],
        st.lists(inner, min_size=1, max_size=3).map(lambda ks: SearchKey("AND", tuple(ks))),
    ), max_leaves=8)


def search_leaf_arguments(text) -> dict[str, st.SearchStrategy[tuple]]:
    """The arguments of a search key, by the shape ``grammar.search.SEARCH_KEYS`` names."""
    return {
        "none": st.just(()),
        "string": st.tuples(text),
        "date": st.tuples(dates),
        "number": st.tuples(st.integers(0, 2**63 - 1)),
        "flag": st.tuples(keywords),
        "field and string": st.tuples(st.text(alphabet=_ASTRING_TEXT, min_size=1, max_size=8),
                                      text),
        "sequence set": st.tuples(sequence_sets),
    }


# keys that hold keys: the shape -> the arguments, given the strategy for an inner key
SEARCH_NESTING = {
    "key": lambda inner: st.tuples(inner),
    "two keys": lambda inner: st.tuples(inner, inner),
}


@st.composite
def search_args(draw) -> tuple:
    charset = draw(st.none() | st.sampled_from(["UTF-8", "US-ASCII", "ISO-8859-1"]))
    keys = draw(st.lists(search_keys(charset), min_size=1, max_size=4))
    return (charset, SearchKey("AND", tuple(keys)))


def _id_params():
    pair = st.tuples(texts, st.none() | texts)
    return st.none() | st.lists(pair, max_size=5).map(tuple)


_ARGS = {
    "CAPABILITY": st.just(()), "NOOP": st.just(()), "LOGOUT": st.just(()),
    "CHECK": st.just(()), "CLOSE": st.just(()), "UNSELECT": st.just(()),
    "NAMESPACE": st.just(()), "IDLE": st.just(()), "STARTTLS": st.just(()),
    "LOGIN": st.tuples(octets, octets),
    "AUTHENTICATE": st.tuples(st.sampled_from(["PLAIN", "LOGIN", "XOAUTH2"]),
                              st.none() | st.just(b"") | st.sampled_from([b"AGZvbwBiYXI=", b"dGVzdA=="])),
    "SELECT": st.tuples(mailbox_names), "EXAMINE": st.tuples(mailbox_names),
    "CREATE": st.tuples(mailbox_names), "DELETE": st.tuples(mailbox_names),
    "SUBSCRIBE": st.tuples(mailbox_names), "UNSUBSCRIBE": st.tuples(mailbox_names),
    "RENAME": st.tuples(mailbox_names, mailbox_names),
    "LIST": st.tuples(texts, st.sampled_from(["*", "%", "", "INBOX", "a/%", "*x*"]) | texts),
    "LSUB": st.tuples(texts, st.sampled_from(["*", "%", "", "INBOX"]) | texts),
    "STATUS": st.tuples(mailbox_names, st.lists(st.sampled_from(mailbox.STATUS_ITEMS),
                                                min_size=1, max_size=6).map(tuple)),
    "APPEND": st.tuples(mailbox_names, st.none() | flags, st.none() | date_times,
                        st.binary(max_size=200)),
    "FETCH": st.tuples(sequence_sets, fetch_item_lists),
    "STORE": st.tuples(sequence_sets, st.sampled_from(sorted(store.STORE_MODES.values())),
                       st.booleans(), flags),
    "SEARCH": search_args(),
    "COPY": st.tuples(sequence_sets, mailbox_names), "MOVE": st.tuples(sequence_sets, mailbox_names),
    "ID": st.tuples(_id_params()).filter(lambda a: a[0] is None or len(a[0]) <= 30),
    "ENABLE": st.lists(atoms.map(str.upper), min_size=1, max_size=3).map(tuple).map(lambda t: (t,)),
}
UID_COMMANDS = tuple(sorted(dispatch.UID_COMMANDS))


@st.composite
def commands(draw) -> Command:
    """Any valid command the grammar parses, in the shape it yields."""
    name = draw(st.sampled_from(dispatch.command_names()))
    uid = name in UID_COMMANDS and draw(st.booleans())
    if name == "EXPUNGE":
        args = (draw(sequence_sets),) if uid else ()
    else:
        args = draw(_ARGS[name])
    return Command(draw(tags), name, args, uid)


# --- broken input --------------------------------------------------------------------

nasty_literal_sizes = st.sampled_from([
    b"{-100}", b"{-1}", b"{+5}", b"{5++}", b"{ 5}", b"{5 }", b"{}", b"{x}", b"{0}", b"{0+}",
    b"{4294967296}", b"{99999999999}", b"{18446744073709551616}", b"{1e3}", b"{0x10}",
    b"{65537}", b"{104857601}", b"{104857601+}", b"{2000000+}", b"~{5}", b"{5}\n",
])


@st.composite
def broken_commands(draw, encoded_commands) -> bytes:
    """Malformed client input built around valid commands."""
    kind = draw(st.sampled_from(
        ["truncate", "splice", "literal", "nesting", "many_literals", "long_line", "raw",
         "nul_quoted", "bare"]))
    base = draw(encoded_commands)
    if kind == "truncate":
        cut = draw(st.integers(0, max(0, len(base) - 1)))
        return base[:cut] + b"\r\n"
    if kind == "splice":
        at = draw(st.integers(0, len(base)))
        junk = draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\r", b"\n", b"(", b")", b"\"",
                                     b"\\", b"{", b"}", b"[", b"]", b"*", b"%", b" ", b"\t",
                                     b"\x7f", b"\xc3\xa9"]) | st.binary(min_size=1, max_size=4))
        return base[:at] + junk + base[at:]
    if kind == "literal":
        tag = draw(tags).encode()
        verb = draw(st.sampled_from([b"SEARCH", b"LOGIN", b"SELECT", b"APPEND INBOX",
                                     b"STATUS", b"FETCH 1 BODY[HEADER.FIELDS", b"ID (",
                                     b"UID SEARCH TEXT", b"CREATE"]))
        size = draw(nasty_literal_sizes)
        tail = draw(st.sampled_from([b"", b"abc", b"hello", b"\x00\x00\x00\x00\x00"]))
        return tag + b" " + verb + b" " + size + b"\r\n" + tail + b"\r\n"
    if kind == "nesting":
        depth = draw(st.sampled_from([50, 99, 100, 101, 1000, 3000]))
        tag = draw(tags).encode()
        verb = draw(st.sampled_from([b"SEARCH ", b"FETCH 1 ", b"STORE 1 FLAGS ", b"ID ",
                                     b"SEARCH NOT " , b"APPEND INBOX ", b"STATUS INBOX "]))
        if verb == b"SEARCH NOT ":
            return tag + b" SEARCH " + b"NOT " * depth + b"ALL\r\n"
        opener = draw(st.sampled_from([b"(", b"OR ALL "]))
        closer = b")" if opener == b"(" else b""
        return tag + b" " + verb + opener * depth + b"ALL" + closer * depth + b"\r\n"
    if kind == "many_literals":
        count = draw(st.sampled_from([2, 50, 1001]))
        plus = draw(st.sampled_from([b"+", b""]))
        tag = draw(tags).encode()
        return tag + b" LOGIN " + b"".join(b"{1%s}\r\nx " % plus for _ in range(count)) + b"x\r\n"
    if kind == "long_line":
        size = draw(st.sampled_from([65535, 65536, 65537, 70000, 200000]))
        tag = draw(tags).encode()
        tail = draw(st.sampled_from([b"", b" {3+}\r\nabc", b" {3}"]))
        return tag + b" SEARCH SUBJECT " + b"a" * size + tail + b"\r\n"
    if kind == "nul_quoted":
        tag = draw(tags).encode()
        return tag + b' LOGIN "us\x00er" "pa\x00ss"\r\n'
    if kind == "bare":
        return draw(st.sampled_from([b"\r\n", b"\n", b" \r\n", b"*\r\n", b"+\r\n", b"a\r\n",
                                     b"a \r\n", b"a UID\r\n", b"a UID NOOP\r\n",
                                     b"a FETCH\r\n", b"a STORE 1\r\n", b"DONE\r\n"]))
    return draw(st.binary(max_size=100)) + draw(st.sampled_from([b"\r\n", b"\n"]))
