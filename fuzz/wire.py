"""A client-side encoder: ``Command`` values to the bytes a client would send.

Written here, independently of the server's grammar, so that the parser target's
round trip ``parse(encode(c)) == c`` tests the grammar against a second reading
of RFC 3501 section 9. A ``random.Random`` picks among equivalent spellings
(atom, quoted or literal; ``{n}`` or ``{n+}``; upper or lower case keywords), so
the same value reaches the parser in many forms.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from imapsession.protocol.command import Command, FetchItem, SearchKey

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x00, 0x21)) | {0x7F}
ATOM_CHARS = frozenset(set(range(0x21, 0x7F)) - _ATOM_SPECIALS)
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
LIST_CHARS = ATOM_CHARS | {ord("%"), ord("*"), ord("]")}


class Encoder:
    """Encodes commands; ``rng`` chooses spellings, ``literal_plus`` allows ``{n+}``."""

    def __init__(self, rng: random.Random | None = None, literal_plus: bool = True):
        self.rng = rng or random.Random(0)
        self.literal_plus = literal_plus

    # --- strings ---------------------------------------------------------------------

    def literal(self, data: bytes) -> bytes:
        plus = b"+" if self.literal_plus and self.rng.random() < 0.5 else b""
        return b"{%d%s}\r\n" % (len(data), plus) + data

    def string(self, data: bytes) -> bytes:
        quotable = all(0x01 <= o <= 0x7F and o not in (0x0D, 0x0A) for o in data)
        if quotable and self.rng.random() < 0.8:
            return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        return self.literal(data)

    def astring(self, data: bytes, chars: frozenset[int] = ASTRING_CHARS) -> bytes:
        if data and all(o in chars for o in data) and self.rng.random() < 0.7:
            return data
        return self.string(data)

    def mailbox(self, name: str) -> bytes:
        return self.astring(name.encode("utf-8"))

    def word(self, word: str) -> bytes:
        """A keyword in random case (the grammar is case-insensitive)."""
        if self.rng.random() < 0.2:
            return word.lower().encode()
        return word.encode()

    # --- compound values ------------------------------------------------------------

    @staticmethod
    def sequence(seq) -> bytes:
        def one(v: int | None) -> str:
            return "*" if v is None else str(v)

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in seq.ranges).encode()

    def flags(self, flags: frozenset[str], parens: bool = True) -> bytes:
        items = sorted(flags)
        self.rng.shuffle(items)
        body = " ".join(items).encode()
        return b"(" + body + b")" if parens else body

    @staticmethod
    def date_time(value: datetime) -> bytes:
        offset = value.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        return (f'"{value.day:02d}-{MONTHS[value.month - 1]}-{value.year:04d} '
                f'{value.hour:02d}:{value.minute:02d}:{value.second:02d} '
                f'{sign}{minutes // 60:02d}{minutes % 60:02d}"').encode()

    @staticmethod
    def date(value: date) -> bytes:
        return f"{value.day}-{MONTHS[value.month - 1]}-{value.year:04d}".encode()

    def fetch_item(self, item: FetchItem) -> bytes:
        if item.section is None:
            return self.word(item.name)
        base = item.name[:-2] + (".PEEK" if item.peek else "")
        section = item.section
        spec = ".".join(str(n) for n in section.part).encode()
        if section.text:
            spec += (b"." if spec else b"") + section.text.encode()
        if section.fields:
            spec += b" (" + b" ".join(self.astring(f.encode()) for f in section.fields) + b")"
        out = base.encode() + b"[" + spec + b"]"
        if item.partial is not None:
            out += b"<%d.%d>" % item.partial
        return out

    def search_key(self, key: SearchKey, charset: str | None, top: bool = False) -> bytes:
        name, args = key.name, key.args
        if name == "AND":
            inner = b" ".join(self.search_key(k, charset) for k in args)
            return inner if top else b"(" + inner + b")"
        if name == "SEQSET":
            return self.sequence(args[0])
        head = self.word(name)
        if not args:
            return head
        if name in ("NOT",):
            return head + b" " + self.search_key(args[0], charset)
        if name == "OR":
            return (head + b" " + self.search_key(args[0], charset) + b" "
                    + self.search_key(args[1], charset))
        if name == "UID":
            return head + b" " + self.sequence(args[0])
        if name in ("LARGER", "SMALLER"):
            return head + b" %d" % args[0]
        if name in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            return head + b" " + self.date(args[0])
        if name in ("KEYWORD", "UNKEYWORD"):
            return head + b" " + args[0].encode()
        if name == "HEADER":
            return (head + b" " + self.astring(args[0].encode()) + b" "
                    + self.astring(args[1].encode()))
        return head + b" " + self.astring(args[0].encode())

    # --- commands ---------------------------------------------------------------------

    def command(self, c: Command) -> bytes:
        """The whole command, CRLF included."""
        head = c.tag.encode() + b" " + (b"UID " if c.uid else b"") + self.word(c.name)
        return head + self._args(c) + b"\r\n"

    def _args(self, c: Command) -> bytes:
        a = c.args
        n = c.name
        if n in ("CAPABILITY", "NOOP", "LOGOUT", "CHECK", "CLOSE", "UNSELECT", "NAMESPACE",
                 "IDLE", "STARTTLS"):
            return b""
        if n == "EXPUNGE":
            return b" " + self.sequence(a[0]) if c.uid else b""
        if n == "LOGIN":
            return b" " + self.astring(a[0]) + b" " + self.astring(a[1])
        if n == "AUTHENTICATE":
            out = b" " + a[0].encode()
            if a[1] is not None:
                out += b" " + (a[1] or b"=")
            return out
        if n in ("SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"):
            return b" " + self.mailbox(a[0])
        if n == "RENAME":
            return b" " + self.mailbox(a[0]) + b" " + self.mailbox(a[1])
        if n in ("LIST", "LSUB"):
            return (b" " + self.astring(a[0].encode()) + b" "
                    + self.astring(a[1].encode(), LIST_CHARS))
        if n == "STATUS":
            return b" " + self.mailbox(a[0]) + b" (" + b" ".join(self.word(i) for i in a[1]) + b")"
        if n == "APPEND":
            out = b" " + self.mailbox(a[0])
            if a[1] is not None:
                out += b" " + self.flags(a[1])
            if a[2] is not None:
                out += b" " + self.date_time(a[2])
            return out + b" " + self.literal(a[3])
        if n == "FETCH":
            items = a[1]
            names = tuple(i.name for i in items)
            if all(i.section is None for i in items) and names in _MACROS \
                    and self.rng.random() < 0.5:
                return b" " + self.sequence(a[0]) + b" " + self.word(_MACROS[names])
            if len(items) == 1 and self.rng.random() < 0.5:
                return b" " + self.sequence(a[0]) + b" " + self.fetch_item(items[0])
            return (b" " + self.sequence(a[0]) + b" ("
                    + b" ".join(self.fetch_item(i) for i in items) + b")")
        if n == "STORE":
            mode = {"set": "FLAGS", "add": "+FLAGS", "remove": "-FLAGS"}[a[1]]
            item = self.word(mode + (".SILENT" if a[2] else ""))
            parens = not a[3] or self.rng.random() < 0.7
            return b" " + self.sequence(a[0]) + b" " + item + b" " + self.flags(a[3], parens)
        if n == "SEARCH":
            out = b" "
            if a[0] is not None:
                out += b"CHARSET " + self.astring(a[0].encode()) + b" "
            return out + self.search_key(a[1], a[0], top=True)
        if n in ("COPY", "MOVE"):
            return b" " + self.sequence(a[0]) + b" " + self.mailbox(a[1])
        if n == "ID":
            if a[0] is None:
                return b" NIL"
            pairs = []
            for key, value in a[0]:
                pairs.append(self.string(key.encode()) + b" "
                             + (b"NIL" if value is None else self.string(value.encode())))
            return b" (" + b" ".join(pairs) + b")"
        if n == "ENABLE":
            return b"".join(b" " + cap.encode() for cap in a[0])
        raise ValueError(f"cannot encode {n}")


# RFC 3501 6.4.5's macros, as a client knows them (not the grammar's table)
_MACROS = {
    ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"): "ALL",
    ("FLAGS", "INTERNALDATE", "RFC822.SIZE"): "FAST",
    ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"): "FULL",
}
