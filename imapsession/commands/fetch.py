"""FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8; BINARY, RFC 3516)."""

from __future__ import annotations

from imapsession.protocol import serializer
from imapsession.protocol.command import Command, FetchItem
from imapsession.protocol.types import Section, format_date_time
from imapsession.session import Done, Session, bad, no, ok
from imapsession.storage.base import MessageGone
from imapsession.view import InvalidMessageSet, resolve

_NEEDS_CONTENT = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER",
                            "RFC822.TEXT", "BODY[]", "BINARY[]", "BINARY.SIZE[]"})
_SMALL = frozenset({"FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "MODSEQ"})
_RFC822_SECTIONS = {"RFC822": Section(), "RFC822.HEADER": Section((), "HEADER"),
                    "RFC822.TEXT": Section((), "TEXT")}


def _envelope(message: _Message) -> bytes:
    from imapsession import mime

    # no part: given one, envelope() describes the message a message/rfc822 body encloses
    return mime.envelope(message.data)


def _body(message: _Message) -> bytes:
    from imapsession import mime

    return mime.body_structure(message.data, extended=False, part=message.root)


def _bodystructure(message: _Message) -> bytes:
    from imapsession import mime

    return mime.body_structure(message.data, extended=True, part=message.root)


_STRUCTURE = {"ENVELOPE": _envelope, "BODY": _body, "BODYSTRUCTURE": _bodystructure}


class _Message:
    """One message's bytes in wire form (CRLF), loaded at most once per command.

    The last message read is kept on the view too: a client fetching a large
    message in chunks (BODY[]<0.65536>, <65536.65536>, ...) would otherwise pay
    a read and a CRLF conversion of the whole message per chunk.
    """

    def __init__(self, session: Session, uid: int):
        self._view = session.view
        self._uid = uid
        self._data: bytes | None = None
        self._root = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            last = self._view.last_message
            if last is not None and last[0] == self._uid:
                self._data = last[1]
            else:
                from imapsession import mime

                self._data = mime.to_crlf(self._view.mailbox.read_message(self._uid))
                if len(self._data) <= _KEEP_LAST:
                    self._view.last_message = (self._uid, self._data)
        return self._data

    @property
    def loaded(self) -> bool:
        last = self._view.last_message
        return self._data is not None or (last is not None and last[0] == self._uid)

    @property
    def root(self):
        """The parsed structure, once per message however many sections are asked for."""
        if self._root is None:
            from imapsession import mime

            self._root = mime.parse(self.data)
        return self._root


def handle_fetch(session: Session, command: Command) -> Done:
    sequence, items = command.args
    view = session.view
    try:
        targets = resolve(view, sequence, command.uid)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    if command.uid and not any(item.name == "UID" for item in items):
        items = (FetchItem("UID"), *items)
    sets_seen = not view.readonly and any(item.sets_seen for item in items)
    wants_flags = any(item.name == "FLAGS" for item in items)
    # Dovecot's order: the small items first (as asked), then the rest (as asked)
    items = (*[i for i in items if i.name in _SMALL], *[i for i in items if i.name not in _SMALL])
    gone = 0
    for seq, uid in targets:
        if uid in view.gone:
            gone += 1
            continue
        try:
            _fetch_one(session, seq, uid, items, sets_seen, wants_flags)
        except MessageGone:
            gone += 1
        except _Refusal as refusal:
            return refusal.done
    if gone:
        return no("Some of the requested messages no longer exist.", "EXPUNGEISSUED")
    return ok("Fetch completed.")


class _Refusal(Exception):
    """A message the command cannot serve as asked (e.g. BINARY of an unknown encoding)."""

    def __init__(self, done: Done):
        super().__init__(done.text)
        self.done = done


def _fetch_one(session: Session, seq: int, uid: int, items, sets_seen: bool,
               wants_flags: bool) -> None:
    view = session.view
    message = _Message(session, uid)
    pieces: list[bytes | _Streamed] = []
    implicit_flags = False
    if sets_seen and "\\Seen" not in view.flags[uid]:
        records, _ = view.mailbox.store_flags([uid], "add", frozenset({"\\Seen"}))
        for record in records:
            view.apply_own_change(record)
        implicit_flags = not wants_flags
    for item in items:
        if implicit_flags and item.name not in _SMALL:
            # Dovecot reports the implicit \Seen after the small items, before the rest
            pieces.append(b"FLAGS " + _flags(view, uid))
            implicit_flags = False
        piece = _streamed(view, uid, message, item) if item.name in _WHOLE else None
        pieces.append(piece or _item(session, view, uid, message, item))
    # everything that can fail (an expunged message) has failed by now: send
    if not any(type(piece) is _Streamed for piece in pieces):
        session.send(b"* %d FETCH (" % seq + b" ".join(pieces) + b")\r\n")
        return
    session.send(b"* %d FETCH (" % seq)
    for index, piece in enumerate(pieces):
        if index:
            session.send(b" ")
        if isinstance(piece, _Streamed):
            session.send(piece.label + b" {%d}\r\n" % piece.size)
            for chunk in piece.chunks:
                session.send(chunk)
        else:
            session.send(piece)
    session.send(b")\r\n")


STREAM_OVER = 1024 * 1024  # whole messages larger than this go out in chunks, never whole
_WHOLE = frozenset({"BODY[]", "RFC822"})  # items that may stream a whole message
_KEEP_LAST = 32 * 1024 * 1024  # the last message read is kept for chunked fetches up to this
_CHUNK = 1024 * 1024


class _Streamed:
    """A literal sent chunk by chunk from the file: memory stays bounded for huge mail."""

    def __init__(self, label: bytes, size: int, chunks):
        self.label = label
        self.size = size
        self.chunks = chunks


def _streamed(view, uid: int, message: _Message, item: FetchItem) -> _Streamed | None:
    """BODY[] / RFC822 of a large message, unless it is already in memory."""
    whole = item.name == "RFC822" or (item.name == "BODY[]" and item.section == Section())
    if not whole or message.loaded:
        return None
    total = view.mailbox.meta(uid).size
    if total <= STREAM_OVER:
        return None
    start, stop = 0, total
    label = b"RFC822" if item.name == "RFC822" else b"BODY[]"
    if item.partial is not None:
        origin, length = item.partial
        label += b"<%d>" % origin
        start, stop = min(origin, total), min(origin + length, total)
    stream = view.mailbox.open_message(uid)  # raises MessageGone before anything is sent
    return _Streamed(label, stop - start, _wire_chunks(stream, start, stop))


def _wire_chunks(stream, start: int, stop: int):
    """CRLF octets [start, stop) of a stored message, converted a chunk at a time
    (a CR ending one chunk waits for the next, so a CRLF split across them stays one)."""
    from imapsession import mime

    with stream:
        position = 0
        carry = b""
        while position < stop:
            raw = stream.read(_CHUNK)
            if raw:
                raw = carry + raw
                carry = b"\r" if raw.endswith(b"\r") else b""
                if carry:
                    raw = raw[:-1]
            else:
                raw, carry = carry, b""
                if not raw:
                    break
            data = mime.to_crlf(raw)
            low, high = max(start - position, 0), min(stop - position, len(data))
            if low < high:
                yield _text_safe(data[low:high])
            position += len(data)


def _flags(view, uid: int) -> bytes:
    return view.formatted_flags(uid)


def _item(session: Session, view, uid: int, message: _Message, item: FetchItem) -> bytes:
    name = item.name
    if name == "UID":
        return b"UID %d" % uid
    if name == "FLAGS":
        return b"FLAGS " + _flags(view, uid)
    if name == "INTERNALDATE":
        meta = view.mailbox.meta(uid)
        return b'INTERNALDATE "' + format_date_time(meta.internal_date.astimezone()).encode() + b'"'
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % view.mailbox.meta(uid).size
    from imapsession import mime

    if name in _STRUCTURE:
        # computed once per message, then served from the index (DESIGN: a second
        # FETCH of everything costs as much as reading rows)
        value = view.mailbox.cached(uid, name)
        if value is None:
            value = _STRUCTURE[name](message)
            view.mailbox.remember(uid, name, value)
        return name.encode() + b" " + value
    if name in _RFC822_SECTIONS:
        return name.encode() + b" " + serializer.literal(
            _text_safe(_section_bytes(message, _RFC822_SECTIONS[name])))
    if name == "BODY[]":
        data = _section_bytes(message, item.section)
        label = b"BODY[" + item.section.to_wire().encode() + b"]"
        return _partial(label, data, item.partial)
    if name in ("BINARY[]", "BINARY.SIZE[]"):
        path = ".".join(str(n) for n in item.section.part).encode()
        try:
            data = mime.binary(message.data, item.section.part, root=message.root)
            literal8 = data is not None and mime.binary_is_literal8(
                message.data, item.section.part, root=message.root)
        except mime.UnknownCTE:
            raise _Refusal(no("Unknown Content-Transfer-Encoding.", "UNKNOWN-CTE")) from None
        except mime.BinaryDecodeError:
            raise _Refusal(no("Invalid data in MIME part", "PARSE")) from None
        data = data if data is not None else mime.missing_section_value()
        if name == "BINARY.SIZE[]":
            return b"BINARY.SIZE[" + path + b"] %d" % len(data)
        return _partial(b"BINARY[" + path + b"]", data, item.partial, binary=literal8)
    raise AssertionError(f"unhandled fetch item {name}")


def _section_bytes(message: _Message, section: Section) -> bytes:
    from imapsession import mime

    if section == Section():
        return message.data
    value = mime.section(message.data, section, root=message.root)
    return value if value is not None else mime.missing_section_value()


def _partial(label: bytes, data: bytes, partial: tuple[int, int] | None,
             binary: bool = False) -> bytes:
    if partial is not None:
        origin, length = partial
        label += b"<%d>" % origin
        data = data[origin:origin + length]
    if binary and b"\x00" in data:
        return label + b" ~{%d}\r\n" % len(data) + data
    return label + b" " + serializer.literal(data if binary else _text_safe(data))


def _text_safe(data: bytes) -> bytes:
    """RFC 3501 4.3: a literal may not hold NUL; like Dovecot, send 0x80 in its place."""
    return data.replace(b"\x00", b"\x80") if b"\x00" in data else data
