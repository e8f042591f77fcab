"""SEARCH and UID SEARCH (RFC 3501 6.4.4), matching decoded text as Dovecot does."""

from __future__ import annotations

import time
from datetime import date

from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, bad, no, ok
from imapsession.protocol.command import Command, SearchKey
from imapsession.storage.base import MessageGone
from imapsession.view import MailboxView

CHARSETS = ("US-ASCII", "UTF-8")
_FLAG_KEYS = {"ANSWERED": "\\Answered", "DELETED": "\\Deleted", "DRAFT": "\\Draft",
              "FLAGGED": "\\Flagged", "SEEN": "\\Seen"}
_ADDRESS_HEADERS = {"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc"}


class _Candidate:
    """One message under test; its slow facts are loaded only when a key needs them."""

    def __init__(self, view: MailboxView, seq: int, uid: int):
        self.view = view
        self.seq = seq
        self.uid = uid
        self._meta = None
        self._data: bytes | None = None
        self._header: bytes | None = None

    @property
    def flags(self) -> frozenset[str]:
        return self.view.flags[self.uid]

    @property
    def meta(self):
        if self._meta is None:
            self._meta = self.view.mailbox.meta(self.uid)
        return self._meta

    @property
    def data(self) -> bytes:
        if self._data is None:
            from imapsession import mime

            self._data = mime.to_crlf(self.view.mailbox.read_message(self.uid))
        return self._data

    @property
    def header(self) -> bytes:
        """The top-level header (and its blank line), read without the body when possible:
        SEARCH HEADER/FROM/SUBJECT must not read a mailbox's attachments."""
        if self._data is not None:
            return self._data
        if self._header is None:
            self._header = self.view.mailbox.cached(self.uid, "HEADER")
        if self._header is None:
            from imapsession import mime

            head = bytearray()
            with self.view.mailbox.open_message(self.uid) as stream:
                while True:
                    chunk = stream.read(8192)
                    head += chunk
                    ends = [i for i in (head.find(b"\n\n"), head.find(b"\n\r\n")) if i >= 0]
                    if ends:
                        del head[min(ends) + 3:]  # keep the blank line, drop the body
                        break
                    if not chunk:
                        break
            self._header = mime.to_crlf(bytes(head))
            # headers are small and searched often: the next search reads the index
            self.view.mailbox.remember(self.uid, "HEADER", self._header)
        return self._header


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _may_match(header: bytes, needle: str) -> bool:
    """False only when no decoded header field can contain ``needle``.

    For a plain ASCII header with no encoded words, decoding changes nothing and
    case folding is lowering, so a byte search settles it without parsing fields.
    """
    if not needle.isascii() or not header.isascii() or b"=?" in header:
        return True
    return needle.lower().encode() in header.lower()


def _internal_day(candidate: _Candidate) -> date:
    # RFC 3501: compare dates only; like Dovecot, in the server's local time zone
    stamp = candidate.meta.internal_date.timestamp()
    return date(*time.localtime(stamp)[:3])


def _sent_day(candidate: _Candidate) -> date | None:
    from imapsession import mime

    sent = mime.date_header(candidate.header)
    return sent.date() if sent is not None else None


def matches(key: SearchKey, c: _Candidate) -> bool:
    """Evaluate a search key against one message."""
    name, args = key.name, key.args
    if name == "AND":
        return all(matches(k, c) for k in args)
    if name == "OR":
        return matches(args[0], c) or matches(args[1], c)
    if name == "NOT":
        return not matches(args[0], c)
    if name == "ALL":
        return True
    if name in _FLAG_KEYS:
        return _FLAG_KEYS[name] in c.flags
    if name.startswith("UN") and name[2:] in _FLAG_KEYS:
        return _FLAG_KEYS[name[2:]] not in c.flags
    if name == "RECENT":
        return c.uid in c.view.recent
    if name == "OLD":
        return c.uid not in c.view.recent
    if name == "NEW":
        return c.uid in c.view.recent and "\\Seen" not in c.flags
    if name in ("KEYWORD", "UNKEYWORD"):  # keywords are case-insensitive, as in Dovecot
        wanted = args[0].lower()
        return any(f.lower() == wanted for f in c.flags) == (name == "KEYWORD")
    if name == "SEQSET":
        return args[0].contains(c.seq, len(c.view.uids))
    if name == "UID":
        return args[0].contains(c.uid, c.view.uids[-1] if c.view.uids else 0)
    if name == "LARGER":
        return c.meta.size > args[0]
    if name == "SMALLER":
        return c.meta.size < args[0]
    if name in ("BEFORE", "ON", "SINCE"):
        return _compare_day(name, _internal_day(c), args[0])
    if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        day = _sent_day(c)
        if day is None:  # no usable Date: header: Dovecot counts it as 1-Jan-1970
            day = date(1970, 1, 1)
        return _compare_day(name[4:], day, args[0])
    from imapsession import mime

    if name in _ADDRESS_HEADERS:  # addresses as Dovecot sees them: parsed, then decoded
        values = mime.decoded_addresses(c.header, _ADDRESS_HEADERS[name])
        return any(_contains(v, args[0]) for v in values)
    if name == "SUBJECT":
        if not _may_match(c.header, args[0]):
            return False
        return any(_contains(v, args[0]) for v in mime.decoded_headers(c.header, "Subject"))
    if name == "HEADER":
        if args[1] and not _may_match(c.header, args[1]):
            return False
        values = mime.decoded_headers(c.header, args[0])
        return bool(values) and any(_contains(v, args[1]) for v in values)
    if name == "BODY":
        return any(_contains(text, args[0]) for text in mime.decoded_body_texts(c.data))
    if name == "TEXT":
        if any(_contains(text, args[0]) for text in mime.all_decoded_part_headers(c.data)):
            return True
        return any(_contains(text, args[0]) for text in mime.decoded_body_texts(c.data))
    raise AssertionError(f"unhandled search key {name}")


def _compare_day(kind: str, day: date, wanted: date) -> bool:
    if kind == "BEFORE":
        return day < wanted
    if kind == "ON":
        return day == wanted
    return day >= wanted


def handle_search(session: HandlerSession, command: Command) -> Done:
    charset, key = command.args
    if charset is not None and charset not in CHARSETS:
        return no("Unsupported charset.", "BADCHARSET (" + " ".join(CHARSETS) + ")")
    view = session.view
    found: list[int] = []
    gone = False
    for seq, uid in enumerate(list(view.uids), 1):
        if uid in view.gone:
            gone = True
            continue
        try:
            if matches(key, _Candidate(view, seq, uid)):
                found.append(uid if command.uid else seq)
        except MessageGone:
            gone = True
        except RecursionError:
            return bad("Search is nested too deeply.")
    session.send(b"* SEARCH" + b"".join(b" %d" % n for n in found) + b"\r\n")
    if gone and not command.uid:
        return ok("Search completed (some messages were expunged).", "EXPUNGEISSUED")
    return ok("Search completed.")
