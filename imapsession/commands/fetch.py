"""FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8; BINARY, RFC 3516)."""

from __future__ import annotations

from imapsession.commands.context import HandlerSession
from imapsession.commands.results import Done, bad, no, ok
from imapsession.protocol import serializer
from imapsession.protocol.command import Command, FetchItem
from imapsession.protocol.types import Section, format_date_time
from imapsession.storage.base import MessageGone
from imapsession.view import InvalidMessageSet, resolve

_NEEDS_CONTENT = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER",
                            "RFC822.TEXT", "BODY[]", "BINARY[]", "BINARY.SIZE[]"})
_SMALL = frozenset({"FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE"})
_RFC822_SECTIONS = {"RFC822": Section(), "RFC822.HEADER": Section((), "HEADER"),
                    "RFC822.TEXT": Section((), "TEXT")}


def _envelope(message: _Message) -> bytes:
    from imapsession import mime

    stored = message.stored
    if stored is not None:  # the top header, kept with the streamed parse
        return mime.envelope_of_header(stored.fields_header(stored.root))
    # no part: given one, envelope() describes the message a message/rfc822 body encloses
    return mime.envelope(message.data)


def _body(message: _Message) -> bytes:
    from imapsession import mime

    return mime.body_structure(message.msg, extended=False, part=message.root)


def _bodystructure(message: _Message) -> bytes:
    from imapsession import mime

    return mime.body_structure(message.msg, extended=True, part=message.root)


_STRUCTURE = {"ENVELOPE": _envelope, "BODY": _body, "BODYSTRUCTURE": _bodystructure}


class _Message:
    """One message's bytes in wire form (CRLF), loaded at most once per command.

    The last message read is kept on the view too: a client fetching a large
    message in chunks (BODY[]<0.65536>, <65536.65536>, ...) would otherwise pay
    a read and a CRLF conversion of the whole message per chunk.

    A message over ``STREAM_OVER`` that is not already in memory is never
    loaded: it is parsed from its file in one streamed pass (``stored``, kept
    on the view like the last message) and its sections are read back in
    ranges, so memory stays bounded whatever is fetched.
    """

    def __init__(self, session: HandlerSession, uid: int):
        self._view = session.view
        self._uid = uid
        self._data: bytes | None = None
        self._root = None
        self._stored = None
        self._decided = False

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
    def stored(self):
        """The streamed parse (a ``mime.StoredMessage``) of a large message, else None."""
        if not self._decided:
            self._decided = True
            view, uid = self._view, self._uid
            last = view.last_stored
            if last is not None and last[0] == uid:
                self._stored = last[1]
            elif self._data is None and not self.loaded:
                size = view.mailbox.meta(uid).size
                if size > STREAM_OVER:
                    from imapsession import mime

                    mailbox = view.mailbox
                    self._stored = mime.parse_stored(lambda: mailbox.open_message(uid), size)
                    if last is not None:
                        last[1].close()
                    view.last_stored = (uid, self._stored)
        return self._stored

    @property
    def msg(self):
        """The CRLF message for the mime functions: a ``StoredMessage`` or ``bytes``."""
        stored = self.stored
        return stored if stored is not None else self.data

    @property
    def root(self):
        """The parsed structure, once per message however many sections are asked for."""
        if self._root is None:
            stored = self.stored
            if stored is not None:
                self._root = stored.root
            else:
                from imapsession import mime

                self._root = mime.parse(self.data)
        return self._root


def _once(items: tuple[FetchItem, ...]) -> tuple[FetchItem, ...]:
    """An item without a section asked twice is answered once, as Dovecot does (a
    response naming UID or FLAGS twice confuses clients); sections go as asked."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.section is None:
            if item.name in seen:
                continue
            seen.add(item.name)
        out.append(item)
    return tuple(out)


def handle_fetch(session: HandlerSession, command: Command) -> Done:
    sequence, items = command.args
    view = session.view
    try:
        targets = resolve(view, sequence, command.uid)
    except InvalidMessageSet as exc:
        return bad(str(exc))
    if command.uid and not any(item.name == "UID" for item in items):
        items = (FetchItem("UID"), *items)
    items = _once(items)
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


def _fetch_one(session: HandlerSession, seq: int, uid: int, items, sets_seen: bool,
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
            session.send(piece.label + (b" ~{%d}\r\n" if piece.literal8 else b" {%d}\r\n")
                         % piece.size)
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

    def __init__(self, label: bytes, size: int, chunks, literal8: bool = False):
        self.label = label
        self.size = size
        self.chunks = chunks
        self.literal8 = literal8


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
    (``mime.stream.crlf_chunks``: a CR ending one chunk waits for the next)."""
    from imapsession.mime.stream import crlf_chunks

    with stream:
        position = 0
        for _offset, data in crlf_chunks(stream, 0, _CHUNK):
            low, high = max(start - position, 0), min(stop - position, len(data))
            if low < high:
                yield _text_safe(data[low:high])
            position += len(data)
            if position >= stop:
                break


def _flags(view, uid: int) -> bytes:
    return view.formatted_flags(uid)


def _item(session: HandlerSession, view, uid: int, message: _Message, item: FetchItem) -> bytes:
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
        # computed once per message, then served from the index (so that a second
        # FETCH of everything costs as much as reading rows)
        value = view.mailbox.cached(uid, name)
        if value is None:
            value = _STRUCTURE[name](message)
            view.mailbox.remember(uid, name, value)
        return name.encode() + b" " + value
    if name in _RFC822_SECTIONS:
        if message.stored is not None:
            return _stored_section(message.stored, name.encode(), _RFC822_SECTIONS[name], None)
        return name.encode() + b" " + serializer.literal(
            _text_safe(_section_bytes(message, _RFC822_SECTIONS[name])))
    if name == "BODY[]":
        label = b"BODY[" + item.section.to_wire().encode() + b"]"
        if message.stored is not None:
            return _stored_section(message.stored, label, item.section, item.partial)
        data = _section_bytes(message, item.section)
        return _partial(label, data, item.partial)
    if name in ("BINARY[]", "BINARY.SIZE[]"):
        path = ".".join(str(n) for n in item.section.part).encode()
        if message.stored is not None:
            return _stored_binary(message.stored, name, path, item)
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


def _stored_section(stored, label: bytes, section: Section,
                    partial: tuple[int, int] | None) -> bytes | _Streamed:
    """BODY[section] of a large stored message: read back, or streamed when large."""
    from imapsession import mime

    value = mime.section_range(stored, section, stored.root)
    if value is None:
        value = mime.missing_section_value()
    if type(value) is bytes:
        return _partial(label, value, partial)
    start, stop = value
    if partial is not None:
        origin, length = partial
        label += b"<%d>" % origin
        start, stop = min(start + origin, stop), min(start + origin + length, stop)
    if stop - start <= STREAM_OVER:
        return label + b" " + serializer.literal(_text_safe(stored[start:stop]))
    return _Streamed(label, stop - start,
                     _started(_text_safe(c) for c in stored.chunks(start, stop)))


def _stored_binary(stored, name: str, path: bytes, item: FetchItem) -> bytes | _Streamed:
    """BINARY[...] / BINARY.SIZE[...] of a large stored message, decoded a chunk at a time.

    A first pass measures the value (and finds bad data) before anything is
    sent; a large value is then decoded again as it streams out.
    """
    from imapsession import mime

    try:
        plan = mime.binary_plan(stored, item.section.part, stored.root)
        pieces = [mime.missing_section_value()] if plan is None else plan[0]
        start, stop = 0, None
        if item.partial is not None and name == "BINARY[]":
            start, stop = item.partial[0], item.partial[0] + item.partial[1]
        size = kept = 0
        nul = False
        for chunk in mime.binary_chunks(stored, pieces):
            low, high = max(start - size, 0), len(chunk) if stop is None else min(stop - size, len(chunk))
            if low < high:
                nul = nul or b"\0" in chunk[low:high]
                kept += high - low
            size += len(chunk)
    except mime.UnknownCTE:
        raise _Refusal(no("Unknown Content-Transfer-Encoding.", "UNKNOWN-CTE")) from None
    except mime.BinaryDecodeError:
        raise _Refusal(no("Invalid data in MIME part", "PARSE")) from None
    if name == "BINARY.SIZE[]":
        return b"BINARY.SIZE[" + path + b"] %d" % size
    label = b"BINARY[" + path + b"]"
    if item.partial is not None:
        label += b"<%d>" % item.partial[0]
    chunks = _window(mime.binary_chunks(stored, pieces), start, stop)
    if kept <= STREAM_OVER:
        data = b"".join(chunks)
        if nul:  # as _partial: literal8 exactly when the octets sent hold a NUL
            return label + b" ~{%d}\r\n" % len(data) + data
        return label + b" " + serializer.literal(data)
    return _Streamed(label, kept, _started(chunks), literal8=nul)


def _started(chunks):
    """``chunks`` with its first chunk already read, so that a message that has gone
    (a file opened again, as for mbox) fails before the response begins."""
    import itertools

    first = next(chunks, None)
    return chunks if first is None else itertools.chain((first,), chunks)


def _window(chunks, start: int, stop: int | None):
    """The octets [start, stop) of a chunk stream (``stop`` None: to its end)."""
    position = 0
    for chunk in chunks:
        low = max(start - position, 0)
        high = len(chunk) if stop is None else min(stop - position, len(chunk))
        if low < high:
            yield chunk if (low, high) == (0, len(chunk)) else chunk[low:high]
        position += len(chunk)
        if stop is not None and position >= stop:
            return


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
