"""Property test: for random MIME trees, the sections tile the message exactly.

A generated tree is rendered together with what every part's MIME header
and body must be; then BODY[HEADER]+BODY[TEXT] must rebuild the message,
each multipart body must be rebuilt from its preamble, boundary lines,
children's BODY[n.MIME]+BODY[n] and epilogue, each BODY[n] must equal the
bytes between its boundaries, and a message/rfc822 part must split into
the enclosed message's HEADER and TEXT.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

import imapsession.mime as mime
from imapsession.protocol.types import Section

_TEXT = st.text(alphabet="abcxyz ABC019.,:;=-_/()<>\"'\t", min_size=0, max_size=30)
_LINE = _TEXT.map(lambda s: ("x" + s) if s.startswith("-") else s)
_BODY = st.lists(_LINE, max_size=6).map(lambda lines: "\r\n".join(lines).encode())
_BODY_TAIL = st.booleans()

_FIELD = st.tuples(st.sampled_from(["X-A", "Subject", "X-Folded", "Comments"]),
                   _TEXT.map(lambda s: s.strip() or "v"), st.booleans())


def _header(fields, content_type: str | None, mime_version: bool = False) -> bytes:
    lines = []
    if mime_version:
        lines.append("MIME-Version: 1.0")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    for name, value, folded in fields:
        lines.append(f"{name}: {value}" + ("\r\n\tcontinued" if folded else ""))
    return ("".join(line + "\r\n" for line in lines) + "\r\n").encode()


_LEAF = st.tuples(st.just("leaf"), st.lists(_FIELD, max_size=3),
                  st.sampled_from([None, "text/plain", "application/octet-stream", "text/html; charset=utf-8"]),
                  _BODY, _BODY_TAIL)


def _extend(children):
    multi = st.tuples(st.just("multi"), st.lists(_FIELD, max_size=2),
                      st.sampled_from(["mixed", "alternative", "related"]),
                      _BODY, _BODY, st.lists(children, min_size=1, max_size=4))
    message = st.tuples(st.just("msg"), st.lists(_FIELD, max_size=2), children)
    return st.one_of(multi, message)


TREES = st.recursive(_LEAF, _extend, max_leaves=12)


class _Renderer:
    """Renders a tree and records what each section must hold."""

    def __init__(self):
        self.counter = itertools.count()
        self.parts: dict[tuple[int, ...], tuple[bytes, bytes]] = {}  # path -> (MIME header, body)
        self.messages: dict[tuple[int, ...], tuple[bytes, bytes]] = {}  # path -> enclosed (HEADER, TEXT)
        # (section holding a multipart body, its children's path prefix, preamble, epilogue,
        #  boundary, number of children)
        self.multiparts: list[tuple[Section, tuple[int, ...], bytes, bytes, bytes, int]] = []
        self.top = (b"", b"")

    def message(self, tree) -> bytes:
        """The whole message; the root's content is numbered as IMAP numbers it."""
        if tree[0] == "multi":
            header, body = self.multi(tree, Section(text="TEXT"), (), True)
        else:
            header, body = self.numbered(tree, (1,), True)
        self.top = (header, body)
        return header + body

    def numbered(self, node, path: tuple[int, ...], top: bool) -> tuple[bytes, bytes]:
        """A node that has its own section number ``path``."""
        kind = node[0]
        if kind == "multi":
            header, body = self.multi(node, Section(part=path), path, top)
        elif kind == "leaf":
            _k, fields, ctype, body, tail = node
            header, body = _header(fields, ctype, top), body + (b"\r\n" if tail else b"")
        else:
            _k, fields, inner = node
            if inner[0] == "multi":
                enclosed = self.multi(inner, Section(part=path, text="TEXT"), path, True)
            else:
                enclosed = self.numbered(inner, path + (1,), True)
            self.messages[path] = enclosed
            header, body = _header(fields, "message/rfc822", top), b"".join(enclosed)
        self.parts[path] = (header, body)
        return header, body

    def multi(self, node, body_section: Section, prefix: tuple[int, ...], top: bool):
        _k, fields, subtype, pre, epi, children = node
        boundary = b"=_b%05d_" % next(self.counter)
        header = _header(fields, f'multipart/{subtype}; boundary="{boundary.decode()}"', top)
        pieces = [pre + (b"\r\n" if pre else b"") + b"--" + boundary + b"\r\n"]
        for index, child in enumerate(children, start=1):
            if index > 1:
                pieces.append(b"\r\n--" + boundary + b"\r\n")
            pieces.append(b"".join(self.numbered(child, prefix + (index,), False)))
        pieces.append(b"\r\n--" + boundary + b"--\r\n" + epi)
        self.multiparts.append((body_section, prefix, pre, epi, boundary, len(children)))
        return header, b"".join(pieces)


def _section(msg, root, path, text=None):
    value = mime.section(msg, Section(part=path, text=text), root)
    assert value is not None, (path, text)
    return value


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_sections_tile_the_message(tree):
    renderer = _Renderer()
    msg = renderer.message(tree)
    root = mime.parse(msg)

    top_header, top_body = renderer.top
    assert mime.section(msg, Section(text="HEADER"), root) == top_header
    assert mime.section(msg, Section(text="TEXT"), root) == top_body
    assert top_header + top_body == msg
    assert (root.body_start, root.body_end) == (len(top_header), len(msg))

    for path, (header, body) in renderer.parts.items():
        assert _section(msg, root, path, "MIME") == header, path
        assert _section(msg, root, path) == body, path

    for path, (inner_header, inner_body) in renderer.messages.items():
        assert _section(msg, root, path, "HEADER") == inner_header
        assert _section(msg, root, path, "TEXT") == inner_body
        assert _section(msg, root, path) == inner_header + inner_body

    for body_section, prefix, pre, epi, boundary, count in renderer.multiparts:
        rebuilt = [pre + (b"\r\n" if pre else b"") + b"--" + boundary + b"\r\n"]
        for index in range(1, count + 1):
            if index > 1:
                rebuilt.append(b"\r\n--" + boundary + b"\r\n")
            child = prefix + (index,)
            rebuilt.append(_section(msg, root, child, "MIME") + _section(msg, root, child))
        rebuilt.append(b"\r\n--" + boundary + b"--\r\n" + epi)
        assert b"".join(rebuilt) == mime.section(msg, body_section, root)
