"""Message structure with byte offsets, found the way Dovecot's message-parser finds it.

The parser walks the CRLF form of a message once, left to right.  Boundary
lines are recognised at line starts only: the newest enclosing boundary that
prefixes the line wins (the longest one when several do).  The newline
before a boundary line belongs to the boundary, so a part's body ends
before it; when a part's header is cut short by a boundary, the header's
last newline goes with the boundary too.

Limits, as in Dovecot 2.3 (``MESSAGE_PARSER_DEFAULT_MAX_NESTED_MIME_PARTS``
= 100 and ``..._MAX_TOTAL_MIME_PARTS`` = 10000): a multipart or
message/rfc822 part whose children would sit 100 levels deep is not
descended into (BODYSTRUCTURE then calls it application/octet-stream), and
once 10,000 parts exist no further boundaries are recognised.  So any input,
including 10,000 nested levels, gives a tree at most 100 deep, in time
linear in its size.

The parser reads ``msg`` only through ``find``, indexing, slicing and
``startswith``, always near a forward-moving position, so the same code runs
on ``bytes`` (small messages, in memory) and on ``stream._Window`` (a large
message read from its file a chunk at a time, see ``stream.py``): one set of
rules for both.  A boundary line is looked at no further than
``_LINE_PEEK`` octets, which decides it exactly (boundaries are at most 80
octets), and only Content-Type and MIME-Version header fields are read
into memory, so a long line or header never has to be held (``find_far``).
"""

from __future__ import annotations

import attrs

from .rfc822 import Tokenizer, rfc2231_params

MAX_NESTED_PARTS = 100
MAX_TOTAL_PARTS = 10000
BOUNDARY_MAX_LEN = 80
# how far a possible boundary line is read: beyond "--", a boundary, "--", CR
_LINE_PEEK = BOUNDARY_MAX_LEN + 8

# flags (the subset of Dovecot's MESSAGE_PART_FLAG_* that changes output)
MULTIPART = 0x01
MULTIPART_DIGEST = 0x02
MESSAGE_RFC822 = 0x04
TEXT = 0x08
IS_MIME = 0x10
OVERFLOW = 0x20


@attrs.frozen
class Part:
    """One MIME part: where its header and body are in the CRLF message.

    ``children`` are a multipart's parts, or for message/rfc822 the single
    enclosed message.  ``body_lines`` counts LFs in the body.
    """

    header_start: int
    body_start: int
    body_end: int
    body_lines: int
    flags: int
    children: tuple[Part, ...] = ()

    @property
    def header_end(self) -> int:
        return self.body_start

    @property
    def is_multipart(self) -> bool:
        return bool(self.flags & MULTIPART)

    @property
    def is_message(self) -> bool:
        """message/rfc822 that was parsed into an enclosed message."""
        return bool(self.flags & MESSAGE_RFC822)

    @property
    def is_text(self) -> bool:
        return bool(self.flags & TEXT)

    @property
    def message(self) -> Part | None:
        return self.children[0] if self.is_message and self.children else None

    def header(self, msg: bytes) -> bytes:
        return msg[self.header_start : self.body_start]

    def body(self, msg: bytes) -> bytes:
        return msg[self.body_start : self.body_end]


class _Node:
    __slots__ = ("start", "hsize", "bsize", "flags", "children", "parent", "depth", "lines")

    def __init__(self, start: int, parent: _Node | None, flags: int = 0):
        self.start = start
        self.hsize = 0
        self.bsize = 0
        self.flags = flags
        self.children: list[_Node] = []
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1
        self.lines = 0  # LFs before the body start, then in the body (streamed parse only)

    def freeze(self, msg) -> Part:
        body_start = self.start + self.hsize
        body_end = body_start + self.bsize
        return Part(
            header_start=self.start,
            body_start=body_start,
            body_end=body_end,
            body_lines=msg.count(b"\n", body_start, body_end) if type(msg) is bytes else self.lines,
            flags=self.flags,
            children=tuple(child.freeze(msg) for child in self.children),
        )


def content_type_flags(value: bytes) -> tuple[int, bytes | None]:
    """Flags implied by a Content-Type value, and its boundary (if multipart)."""
    tok = Tokenizer(value)
    tok.skip_lwsp()
    out = bytearray()
    ret = tok.content_type(out)
    ctype = bytes(out).lower()
    flags = 0
    if ctype == b"message/rfc822":
        flags = MESSAGE_RFC822
    elif ctype[:4] == b"text" and (len(ctype) == 4 or ctype[4:5] == b"/"):
        flags = TEXT
    elif ctype.startswith(b"multipart/"):
        flags = MULTIPART
        if ctype[10:] == b"digest":
            flags |= MULTIPART_DIGEST
    if ret < 0 or not flags & MULTIPART:
        return flags, None
    for key, val in rfc2231_params(tok):
        if key.lower() == b"boundary":
            return flags, val[:BOUNDARY_MAX_LEN]
    return flags, None


class _Parser:
    """One walk over ``msg``: ``bytes``, or a ``stream._Window`` (then ``window`` is set)."""

    def __init__(self, msg):
        self.msg = msg
        self.size = len(msg)
        self.total = 1
        self.bounds: list[tuple[bytes, _Node]] = []  # newest last
        self.window = None if type(msg) is bytes else msg

    def find_far(self, sub: bytes, start: int) -> int:
        """``msg.find`` for a search whose skipped octets are never looked at again
        (a body, an uninteresting header line): a window may forget them as it goes."""
        if self.window is None:
            return self.msg.find(sub, start)
        return self.window.find(sub, start, far=True)

    # -- boundaries -------------------------------------------------------------------

    def find_boundary(self, pos: int) -> tuple[bytes, _Node] | None:
        """The boundary whose line starts at ``pos``, if any."""
        msg = self.msg
        if not self.bounds or msg[pos : pos + 2] != b"--":
            return None
        if self.total >= MAX_TOTAL_PARTS:
            return None
        lf = msg.find(b"\n", pos + 2, pos + 2 + _LINE_PEEK)
        if lf < 0 and pos + 2 + _LINE_PEEK < self.size:
            # longer than any boundary plus "--": only a prefix match can be found
            lf, line_end = pos + 2 + _LINE_PEEK, pos + 2 + _LINE_PEEK
        else:
            line_end = self.size if lf < 0 else lf
        if lf >= 0 and line_end > pos + 2 and msg[line_end - 1] == 0x0D:
            line_end -= 1
        length = line_end - (pos + 2)
        trailing = lf >= 0 and length > 2 and msg[line_end - 2 : line_end] == b"--"
        best = None
        for entry in reversed(self.bounds):
            boundary = entry[0]
            blen = len(boundary)
            if blen <= length and msg.startswith(boundary, pos + 2) and (best is None or len(best[0]) < blen):
                best = entry
                if blen == length or (blen == length - 2 and trailing):
                    break
        return best

    # -- headers ----------------------------------------------------------------------

    def parse_header(self, node: _Node, pos: int) -> tuple[int, bool, bool]:
        """Read ``node``'s header from ``pos``.

        Returns the position after it, whether a multipart body begins, and
        whether a Content-Type field was seen.
        """
        msg, size = self.msg, self.size
        start = pos
        prev_nl = 0
        seen_ct = False
        last_boundary: bytes | None = None
        multipart = False
        eoh = False
        in_field = False
        # the raw lines of the field being read, when it may be Content-Type or
        # MIME-Version (the only ones that matter here; others are skipped unread)
        # or, on a window, one it collects (see stream.py)
        field: list[bytes] | None = None
        needed = False
        window = self.window
        while True:
            at_line = pos < size
            # a complete field is processed once the next line is not a continuation
            if in_field and not (at_line and not eoh and msg[pos] in (0x20, 0x09)):
                if field is not None:
                    raw = b"".join(field)
                    if needed:
                        seen_ct, last_boundary = self._header_field(node, raw, seen_ct,
                                                                    last_boundary)
                    if window is not None:
                        window.collect(raw)
                    field = None
                in_field = False
            if not at_line:
                break
            if last_boundary is not None and node.flags & IS_MIME and (
                msg[pos] == 0x0A or msg[pos : pos + 2] == b"\r\n"
            ):
                if node.depth + 1 < MAX_NESTED_PARTS:
                    self.bounds.append((last_boundary, node))
                    multipart = True
                    last_boundary = None
                else:
                    node.flags = (node.flags | OVERFLOW) & ~MULTIPART
            found = self.find_boundary(pos)
            if found is not None and found[1] is not node:
                # the header ends early; its last newline belongs to the boundary
                node.hsize = pos - start - prev_nl
                if node.parent is not None:
                    node.parent.bsize += prev_nl
                return pos, multipart, seen_ct
            if eoh:
                break
            if not in_field:
                head = msg[pos : pos + 12].lower()
                needed = head in (b"content-type", b"mime-version")
                if needed or (window is not None and window.wants(head)):
                    field = []
            lf = msg.find(b"\n", pos) if field is not None else self.find_far(b"\n", pos)
            end = size if lf < 0 else lf + 1
            if lf == pos or (lf == pos + 1 and msg[pos] == 0x0D):
                eoh = True
                prev_nl = end - pos
                pos = end
                field = None  # a blank line: no field began here
                continue
            in_field = True
            if field is not None:
                field.append(msg[pos:end])
            prev_nl = 0 if lf < 0 else (2 if lf > pos and msg[lf - 1] == 0x0D else 1)
            pos = end
        node.hsize = pos - start
        return pos, multipart, seen_ct

    def _header_field(self, node: _Node, raw: bytes, seen_ct: bool, last_boundary: bytes | None):
        colon = raw.find(b":")
        first_lf = raw.find(b"\n")
        if colon < 0 or 0 <= first_lf < colon:
            return seen_ct, last_boundary
        name = raw[:colon].rstrip(b" \t").lower()
        if name == b"mime-version":
            node.flags |= IS_MIME
        elif name == b"content-type":
            node.flags |= IS_MIME
            if not seen_ct:
                seen_ct = True
                from .headers import split_line

                value = split_line(raw.rstrip(b"\r\n"))[1]
                flags, boundary = content_type_flags(value)
                node.flags |= flags
                if boundary is not None and last_boundary is None:
                    last_boundary = boundary
        return seen_ct, last_boundary

    def finish_header(self, node: _Node, seen_ct: bool) -> None:
        if not node.flags & IS_MIME:
            node.flags = 0
        if not seen_ct or not node.flags & IS_MIME:
            if node.parent is not None and node.parent.flags & MULTIPART_DIGEST:
                node.flags |= MESSAGE_RFC822
            else:
                node.flags |= TEXT

    # -- the walk ---------------------------------------------------------------------

    def run(self) -> _Node:
        msg, size = self.msg, self.size
        root = _Node(0, None)
        node = root
        pos = 0
        header_next = True
        while True:
            if header_next:
                window = self.window
                if window is not None:
                    window.pin = node.start  # the header is kept whole (see stream.py)
                pos, multipart, seen_ct = self.parse_header(node, pos)
                if window is not None:
                    window.header_done(node.start, node.start + node.hsize)
                    node.lines = window.lines_before(node.start + node.hsize)
                self.finish_header(node, seen_ct)
                if multipart:
                    pass
                elif node.flags & MESSAGE_RFC822:
                    if node.depth + 1 < MAX_NESTED_PARTS and self.total < MAX_TOTAL_PARTS:
                        child = _Node(node.start + node.hsize + node.bsize, node)
                        node.children.append(child)
                        self.total += 1
                        node = child
                        continue
                    node.flags = (node.flags | OVERFLOW) & ~MESSAGE_RFC822
            header_next = False
            # body: scan for a boundary line, first at pos itself
            if not self.bounds:
                node.bsize += size - pos
                break
            line = delim = scan = pos
            found = self.find_boundary(pos)
            while found is None:
                lf = self.find_far(b"\n--", scan)
                if lf < 0:
                    break
                line = lf + 1
                delim = lf - 1 if lf > pos and msg[lf - 1] == 0x0D else lf
                found = self.find_boundary(line)
                scan = line
            if found is None:
                node.bsize += size - pos
                break
            node.bsize += delim - pos
            boundary, owner = found
            while node is not owner:
                parent = node.parent
                assert parent is not None
                self._ended(node)
                parent.bsize += node.hsize + node.bsize
                node = parent
            epilogue = msg[line + 2 + len(boundary) : line + 4 + len(boundary)] == b"--"
            index = next(i for i in range(len(self.bounds) - 1, -1, -1) if self.bounds[i][1] is owner)
            del self.bounds[index if epilogue else index + 1 :]
            lf = self.find_far(b"\n", line)
            end = size if lf < 0 else lf + 1
            node.bsize += end - delim
            pos = end
            if lf < 0:
                break  # a boundary line cut by the end of the message starts nothing
            if self.bounds and self.bounds[-1][1] is node:
                child = _Node(pos, node, IS_MIME)
                node.children.append(child)
                self.total += 1
                node = child
                header_next = True
        while node.parent is not None:
            self._ended(node)
            node.parent.bsize += node.hsize + node.bsize
            node = node.parent
        self._ended(root)
        return root

    def _ended(self, node: _Node) -> None:
        """A streamed parse counts a body's LFs when the body ends (still in the window)."""
        if self.window is not None:
            node.lines = self.window.lines_before(node.start + node.hsize + node.bsize) - node.lines


def parse(msg: bytes) -> Part:
    """The part tree of a message in CRLF form (see the module notes for limits)."""
    return _Parser(msg).run().freeze(msg)


def fields_header(msg, part: Part) -> bytes:
    """``part``'s header for reading Content-* and envelope fields from.

    On a ``stream.StoredMessage`` whose header was too big to keep, this is
    just those fields, in order (``iter_fields`` finds the same values).
    """
    return part.header(msg) if type(msg) is bytes else msg.fields_header(part)


def find_part(root: Part, path: tuple[int, ...]) -> Part | None:
    """The part a section number names, following Dovecot's rules.

    In a multipart, n picks the n-th child; elsewhere only 1 is allowed, and
    only a message/rfc822 part may be descended into (its number then names
    a part of the enclosed message).
    """
    part: Part | None = root
    for index, num in enumerate(path):
        if part is None:
            return None
        more = index + 1 < len(path)
        if part.is_multipart:
            pos = max(num, 1) - 1
            part = part.children[pos] if pos < len(part.children) else None
        elif num != 1 or (more and not part.is_message):
            part = None
        if part is not None and part.is_message and more:
            part = part.children[0]
    return part
