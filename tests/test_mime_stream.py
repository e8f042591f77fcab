"""The streamed parse (``mime.parse_stored``) gives what the in-memory path gives.

For every corpus message, for random MIME trees and for random byte soup
(LF, CR LF, bare CR, NUL, boundaries, encodings), read with chunks of a few
octets so chunk edges fall everywhere: the same Part tree, ENVELOPE, BODY,
BODYSTRUCTURE, BODY[section] for many sections, BINARY (value, literal8,
or the same error), and the same octets for any range.  Then the FETCH
side: a session answering from a stored message sends the very bytes it
sends from memory.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mime_properties import TREES, _Renderer

from imapsession import mime
from imapsession.commands import fetch
from imapsession.mime import stream
from imapsession.mime.structure import fields_header, find_part
from imapsession.protocol.types import Section
from imapsession.session import Session
from imapsession.storage.maildir import open_maildir
from mailgen import load_corpus, random_corpus

CORPUS = load_corpus()
binary = importlib.import_module("imapsession.mime.binary")  # the package's name is the function

_PATHS = [()] + [p for n in (1, 2, 3) for p in itertools.product((1, 2, 3), repeat=n)]
_TEXTS = (None, "MIME", "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT")
_FIELDS = ("Subject", "Content-Type", "From")


@contextlib.contextmanager
def _chunked(chunk: int, headers_kept: int = stream.HEADERS_KEPT):
    """Force tiny reads (and optionally fewer kept headers) inside the block; the
    quoted-printable decoder then cuts every unfinished line too."""
    saved = stream.CHUNK, stream.HEADERS_KEPT, binary._QP_HOLD
    stream.CHUNK, stream.HEADERS_KEPT, binary._QP_HOLD = chunk, headers_kept, 0
    try:
        yield
    finally:
        stream.CHUNK, stream.HEADERS_KEPT, binary._QP_HOLD = saved


def _stored(raw: bytes, size: int | None = None) -> mime.StoredMessage:
    size = len(mime.to_crlf(raw)) if size is None else size
    return mime.parse_stored(lambda: io.BytesIO(raw), size)


def _outcome(call):
    try:
        return "ok", call()
    except (mime.UnknownCTE, mime.BinaryDecodeError) as exc:
        return "error", type(exc).__name__


def _everything(msg, root) -> dict:
    """Every value the FETCH side derives from a message, keyed by what it is."""
    out = {
        "root": root,
        "envelope": mime.envelope_of_header(fields_header(msg, root)),
        "body": mime.body_structure(msg, False, root),
        "bodystructure": mime.body_structure(msg, True, root),
    }
    for path in _PATHS:
        for text in _TEXTS:
            if not path and text == "MIME":
                continue
            fields = _FIELDS if text and text.startswith("HEADER.FIELDS") else ()
            sect = Section(path, text, fields)
            out["section", path, text] = mime.section(msg, sect, root)
        part = find_part(root, path) if path else None
        if part is not None and part.is_message:
            out["envelope", path] = mime.envelope(msg, part)
        out["binary", path] = _outcome(lambda path=path: (
            mime.binary(msg, path, root), mime.binary_is_literal8(msg, path, root)))
    return out


def _check(raw: bytes, chunk: int, headers_kept: int = stream.HEADERS_KEPT) -> None:
    wire = mime.to_crlf(raw)
    expected = _everything(wire, mime.parse(wire))
    with _chunked(chunk, headers_kept):
        stored = _stored(raw)
        got = _everything(stored, stored.root)
        assert stored[0 : len(wire)] == wire
        rng = random.Random(len(wire))
        for _ in range(5):
            start = rng.randrange(len(wire) + 1)
            stop = rng.randrange(start, len(wire) + 2)
            assert b"".join(stored.chunks(start, stop)) == wire[start:stop]
    assert expected["envelope"] == mime.envelope(wire)
    for key, value in expected.items():
        assert got[key] == value, key


@pytest.mark.parametrize("name,raw", CORPUS, ids=[name for name, _raw in CORPUS])
def test_corpus_streamed_equals_in_memory(name, raw):
    for chunk in (1, 3, 7, 64):
        _check(raw, chunk)
    _check(raw, 5, headers_kept=0)  # every header read back from the file
    _check(raw, 3, headers_kept=150)  # some kept, some as their Content-*/envelope fields
    lf_only = mime.to_crlf(raw).replace(b"\r\n", b"\n")
    _check(lf_only, 2)


@pytest.mark.parametrize("seed", range(3))
def test_generated_corpus_streamed_equals_in_memory(seed):
    for raw in random_corpus(seed, 15):
        _check(raw, 1 + seed * 5)


@settings(max_examples=150, deadline=None)
@given(TREES, st.integers(1, 40), st.booleans(), st.sampled_from([stream.HEADERS_KEPT, 0, 60, 300]))
def test_random_trees(tree, chunk, lf_only, headers_kept):
    raw = _Renderer().message(tree)
    if lf_only:
        raw = raw.replace(b"\r\n", b"\n")
    _check(raw, chunk, headers_kept)


_TOKENS = st.sampled_from([
    b"\n", b"\r\n", b"\r", b"\n\n", b"\r\n\r\n", b"\x00", b" ", b"\t", b"x", b"abc=",
    b"--", b"--b", b"--b--", b"--bb", b"--b\n", b"--b--\r\n", b"\n--b\n", b"\r\n--bb\r\n",
    b"Content-Type: multipart/mixed; boundary=b\n", b"Content-Type: multipart/digest; boundary=bb\r\n",
    b"Content-Type: message/rfc822\n", b"Content-Type: text/plain\r\n", b"MIME-Version: 1.0\n",
    b"Content-Transfer-Encoding: base64\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"QUJD", b"QQ==", b"=41", b"=\n", b"=\r\n", b"=4", b"==", b"= \r\n", b"\r ", b"Subject: s\n", b"From: a@b\n", b"x" * 100,
    b"To: <c@d>, e@f\n", b"Date: 1 Jan 2024\n", b"Content-ID: <x>\n", b"To-Do: x\n",
    b"Content-Disposition: attachment; filename=a\n", b"CC :g@h\r\n", b"Message-ID: <m>\n",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=60).map(b"".join), st.integers(1, 12),
       st.sampled_from([stream.HEADERS_KEPT, 0, 40]))
def test_random_bytes(raw, chunk, headers_kept):
    _check(raw, chunk, headers_kept)


# -- the FETCH side ---------------------------------------------------------------------

_ITEMS = [
    "BODYSTRUCTURE", "BODY", "ENVELOPE", "RFC822.HEADER", "RFC822.TEXT", "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BODY.PEEK[2.MIME]",
    "BODY.PEEK[3]", "BODY.PEEK[1.1]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]", "BODY.PEEK[9]",
    "BODY.PEEK[HEADER.FIELDS (Subject From)]", "BODY.PEEK[2.HEADER.FIELDS.NOT (Subject)]",
    "BODY.PEEK[1]<3.50>", "BODY.PEEK[TEXT]<0.7>", "BODY.PEEK[2]<100.100000>",
    "BINARY.PEEK[1]", "BINARY.PEEK[2]", "BINARY.PEEK[3]", "BINARY.PEEK[1.1]",
    "BINARY.PEEK[2]<5.20>", "BINARY.PEEK[2]<0.3>", "BINARY.PEEK[3]<0.300>",
    "BINARY.SIZE[1]", "BINARY.SIZE[2]", "BINARY.PEEK[9]", "BINARY.PEEK[]",
]


def _answers(tmp_path, messages, stream_over: int, chunk: int) -> list[bytes]:
    store = open_maildir(str(tmp_path / f"M{stream_over}"))
    session = Session(store, "tester")
    for raw in messages:
        session.receive(b"a APPEND INBOX {%d}\r\n" % len(raw) + raw + b"\r\n")
    session.receive(b"b SELECT INBOX\r\n")
    saved = fetch.STREAM_OVER
    fetch.STREAM_OVER = stream_over
    try:
        with _chunked(chunk):
            answers = [session.receive(b"f FETCH %d %s\r\n" % (n, item.encode()))
                       for n in range(1, len(messages) + 1) for item in _ITEMS]
    finally:
        fetch.STREAM_OVER = saved
        session.leave_selected()
        store.close()
    return answers


def _nul_message(newline: bytes) -> bytes:
    """Long parts holding NUL, raw and base64/QP-encoded (0x80 in BODY[], literal8 in BINARY[])."""
    text = (b"text with a \x00 NUL and more words " * 6 + b"\n") * 3
    encoded = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n" * 4
    qp = b"caf=C3=A9 =00 soft=\nline\n" * 5
    return (b"From: a@example.org\nSubject: nul\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=XX\n\npre\n--XX\n\n" + text
            + b"--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            + encoded + b"--XX\nContent-Transfer-Encoding: quoted-printable\n\n" + qp
            + b"--XX--\nepilogue\n").replace(b"\n", newline)


def test_fetch_from_a_stored_message_sends_the_same_bytes(tmp_path):
    messages = [raw for _name, raw in CORPUS] + [_nul_message(b"\n"), _nul_message(b"\r\n")]
    in_memory = _answers(tmp_path, messages, 1 << 40, stream.CHUNK)
    # every message goes the stored way, and every literal over 64 octets streams
    streamed = _answers(tmp_path, messages, 64, 13)
    for index, (mine, theirs) in enumerate(zip(streamed, in_memory, strict=True)):
        assert mine == theirs, (index // len(_ITEMS) + 1, _ITEMS[index % len(_ITEMS)])


# -- the incremental decoders -------------------------------------------------------------

_QP_VALID = [b"a", b"bc", b"=41", b"=3d", b" ", b"  ", b"\t", b"\n", b"\r\n", b"=\r\n", b"=\n",
             b"\x00", b"\xe9"]
_QP_INVALID = [b"=", b"==", b"=4", b"=G1", b"\r"]
_QP_TEXT = st.one_of(
    st.lists(st.sampled_from(_QP_VALID), max_size=40),  # mostly valid: the octets must agree
    st.lists(st.sampled_from(_QP_VALID * 3 + _QP_INVALID), max_size=40),
).map(b"".join)
_B64_TEXT = st.lists(st.sampled_from([b"QUJD", b"QQ==", b"QUI=", b"Q", b"=", b" ", b"\r\n", b"\n",
                                      b"\t", b"*", b"AAAA"]), max_size=30).map(b"".join)


def _decoded(kind: str, data: bytes, cuts: list[int]):
    """Feed ``data`` cut at ``cuts`` to a fresh decoder: the octets, or the error's type."""
    decoder = binary._decoder(kind)
    out = []
    try:
        previous = 0
        for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
            out.append(decoder.feed(data[previous:cut]))
            previous = cut
        out.append(decoder.finish())
    except mime.BinaryDecodeError:
        return "error"
    return b"".join(out)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([("qp", _QP_TEXT), ("base64", _B64_TEXT)]).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), pair[1])), st.lists(st.integers(0, 200), max_size=8),
    st.sampled_from([0, 1, 3]))
def test_decoders_give_the_same_result_however_the_input_is_cut(kind_data, cuts, hold):
    kind, data = kind_data
    whole = _decoded(kind, data, [])
    if kind == "qp":  # one feed is the plain decoder
        try:
            assert whole == binary.decode_qp(data)
        except mime.BinaryDecodeError:
            assert whole == "error"
    saved = binary._QP_HOLD
    binary._QP_HOLD = hold
    try:
        assert _decoded(kind, data, cuts) == whole
    finally:
        binary._QP_HOLD = saved


# -- bounded memory, measured in process ----------------------------------------------------

def _huge_header_message(size: int) -> bytes:
    fields = b"".join(b"X-Filler-%07d: %s\n" % (i, b"y" * 60) for i in range(size // 79))
    return (b"From: a@example.org\nSubject: big header\nX-Long: " + b"z" * size + b"\n"
            + fields + b"MIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=B\n\n--B\n\none\n--B\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n" + (b"a" * 60 + b"=3D ") * (size // 64)
            + b"\n--B\n\n" + b"x" * size + b"\n--B--\n")


def test_huge_headers_and_lines_are_never_held():
    """A 4 MB header line, 4 MB more of other fields, a 4 MB quoted-printable line
    and a 4 MB body line: parsing, ENVELOPE, BODYSTRUCTURE and BINARY of the long
    quoted-printable line stay within a few chunks and the kept-header budget."""
    import tracemalloc

    raw = _huge_header_message(4_000_000)
    wire = mime.to_crlf(raw)
    with _chunked(64 * 1024, 256 * 1024):
        saved = binary._QP_HOLD
        binary._QP_HOLD = 64 * 1024
        tracemalloc.start()
        try:
            stored = _stored(raw, len(wire))
            envelope = mime.envelope_of_header(fields_header(stored, stored.root))
            structure = mime.body_structure(stored, True, stored.root)
            pieces, decoded = mime.binary_plan(stored, (2,), stored.root)
            size = sum(len(chunk) for chunk in mime.binary_chunks(stored, pieces))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            binary._QP_HOLD = saved
        stored.close()
    assert b'"big header"' in envelope
    root = mime.parse(wire)
    assert structure == mime.body_structure(wire, True, root)
    # (the line's trailing blank goes, as quoted-printable says)
    assert decoded and size == len((b"a" * 60 + b"= ") * (4_000_000 // 64)) - 1
    assert peak < 2 * 1024 * 1024, peak
