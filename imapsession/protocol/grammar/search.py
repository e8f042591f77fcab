"""SEARCH: the optional CHARSET and the search keys, nested."""

from __future__ import annotations

from imapsession.protocol.command import SearchKey
from imapsession.protocol.grammar.reader import MAX_NESTING, ParseError, Reader

# search keys by the arguments they take (the fuzzer's strategies are drawn from these)
_SEARCH_NOARG = {"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT",
                 "SEEN", "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"}
_SEARCH_STRING = {"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"}
_SEARCH_DATE = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}
_SEARCH_NUMBER = {"LARGER", "SMALLER"}
_SEARCH_FLAG = {"KEYWORD", "UNKEYWORD"}
# every named key and the shape of its arguments; a sequence set and a parenthesised
# list are keys without a name ("SEQSET", "AND" in the SearchKey values)
SEARCH_KEYS: dict[str, str] = {
    **dict.fromkeys(sorted(_SEARCH_NOARG), "none"),
    **dict.fromkeys(sorted(_SEARCH_STRING), "string"),
    **dict.fromkeys(sorted(_SEARCH_DATE), "date"),
    **dict.fromkeys(sorted(_SEARCH_NUMBER), "number"),
    **dict.fromkeys(sorted(_SEARCH_FLAG), "flag"),
    "HEADER": "field and string", "UID": "sequence set", "NOT": "key", "OR": "two keys",
}
# what a BAD answer says is missing after a key, by the key's shape
_ARGUMENT = {"string": "search string", "date": "date (dd-Mon-yyyy)", "number": "size",
             "flag": "keyword", "field and string": "header field name",
             "sequence set": "UID set", "key": "search key", "two keys": "two search keys"}


def _search(reader: Reader, uid: bool) -> tuple:
    reader.sp("search keys")
    charset = None
    if reader.line[reader.pos:].upper() == b"CHARSET" and reader.index == len(reader.segments) - 1:
        raise ParseError("Missing charset name after CHARSET")
    if reader.maybe_ci(b"CHARSET "):
        charset = reader.text_string("charset name").upper()
        reader.sp("search keys after CHARSET")
    keys = [_search_key(reader, charset)]
    while reader.maybe(b" "):
        keys.append(_search_key(reader, charset))
    return (charset, SearchKey("AND", tuple(keys)))


def _search_string(reader: Reader, charset: str | None) -> str:
    raw = reader.astring("search string")
    try:
        return raw.decode("utf-8" if charset != "US-ASCII" else "ascii")
    except UnicodeDecodeError:
        # invalid UTF-8 cannot match anything readable; keep it comparable
        return raw.decode("utf-8", "replace")


def _search_key(reader: Reader, charset: str | None) -> SearchKey:
    octet = reader.peek()
    if octet == 0x28:
        reader.open_paren()
        keys = [_search_key(reader, charset)]
        while reader.maybe(b" "):
            keys.append(_search_key(reader, charset))
        reader.close_paren()
        return SearchKey("AND", tuple(keys))
    if octet is not None and (0x30 <= octet <= 0x39 or octet == 0x2A):
        return SearchKey("SEQSET", (reader.sequence_set(),))
    if octet == 0x29:
        raise ParseError("Unexpected ')': no search key before it")
    word = reader.atom("search key").upper()
    if word not in SEARCH_KEYS:
        raise ParseError(f"Unknown search key {reader.quote(word)}")
    if word in _SEARCH_NOARG:
        return SearchKey(word)
    reader.sp(f"{_ARGUMENT[SEARCH_KEYS[word]]} after {word}")
    if word in _SEARCH_STRING:
        return SearchKey(word, (_search_string(reader, charset),))
    if word in _SEARCH_DATE:
        return SearchKey(word, (reader.date(),))
    if word in _SEARCH_NUMBER:
        return SearchKey(word, (reader.number(f"size after {word}", bits=63),))
    if word in _SEARCH_FLAG:
        return SearchKey(word, (reader.flag(),))
    if word == "HEADER":
        field = reader.text_string("header field name")
        reader.sp(f"search string after HEADER {reader.quote(field)}")
        return SearchKey(word, (field, _search_string(reader, charset)))
    if word == "UID":
        return SearchKey(word, (reader.sequence_set("UID set"),))
    if word == "NOT":
        reader.depth += 1
        if reader.depth > MAX_NESTING:
            raise ParseError("Too deep nesting of search keys")
        key = _search_key(reader, charset)
        reader.depth -= 1
        return SearchKey(word, (key,))
    if word == "OR":
        reader.depth += 1
        if reader.depth > MAX_NESTING:
            raise ParseError("Too deep nesting of search keys")
        first = _search_key(reader, charset)
        reader.sp("second search key after OR")
        second = _search_key(reader, charset)
        reader.depth -= 1
        return SearchKey(word, (first, second))
    raise ParseError(f"Unknown search key {reader.quote(word)}")


PARSERS = {"SEARCH": _search}
