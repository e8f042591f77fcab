"""Unit tests for imapsession.mime that need no reference server."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest

import imapsession.mime as mime
from imapsession.protocol.types import Section


def test_to_crlf_converts_bare_lf_only():
    assert mime.to_crlf(b"a\nb\r\nc\rd\n") == b"a\r\nb\r\nc\rd\r\n"
    assert mime.to_crlf(b"a\r\r\nb") == b"a\r\r\nb"
    crlf = b"x\r\ny\r\n"
    assert mime.to_crlf(crlf) is crlf


def _nested(levels: int) -> bytes:
    opening = "".join(f"Content-Type: multipart/mixed; boundary=b{i:05d}\n\n--b{i:05d}\n"
                      for i in range(levels))
    return mime.to_crlf(("From: a@x\nMIME-Version: 1.0\n" + opening + "\nx\n").encode())


def _depth(part: mime.Part) -> int:
    depth = 0
    while part.children:
        part = part.children[0]
        depth += 1
    return depth


def test_ten_thousand_levels_are_capped_not_a_crash():
    msg = _nested(10000)
    started = time.perf_counter()
    root = mime.parse(msg)
    structure = mime.body_structure(msg, True, root)
    assert time.perf_counter() - started < 5
    assert _depth(root) == mime.MAX_NESTED_PARTS - 1
    # the part that would have gone deeper is reported as an opaque blob
    assert b'"application" "octet-stream" ("boundary" "b00099")' in structure
    deepest = mime.section(msg, Section(part=(1,) * 99), root)
    assert deepest is not None and deepest.startswith(b"--b00099\r\n")
    # a leaf is its own part 1; below it there is nothing
    assert mime.section(msg, Section(part=(1,) * 100), root) == deepest
    assert mime.section(msg, Section(part=(1,) * 101), root) is None


def test_parse_is_linear_enough_for_a_large_message():
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n"
    body = line * 250000  # about 21 MB
    msg = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"--z--\r\n")
    started = time.perf_counter()
    root = mime.parse(msg)
    assert time.perf_counter() - started < 2
    assert root.children[0].body_end - root.children[0].body_start == len(body) - 2


def test_missing_parts_and_the_value_dovecot_sends():
    msg = mime.to_crlf(b"Subject: x\n\nbody\n")
    assert mime.section(msg, Section(part=(2,))) is None
    assert mime.section(msg, Section(part=(1, 1))) is None
    assert mime.section(msg, Section(part=(1,), text="HEADER")) is None  # not message/rfc822
    assert mime.section(msg, Section(part=(1,))) == b"body\r\n"
    assert mime.section(msg, Section(part=(1,), text="MIME")) == b"Subject: x\r\n\r\n"
    assert mime.missing_section_value() == b""


def test_nul_is_sent_as_0x80_except_in_binary():
    msg = mime.to_crlf(b"Subject: x\n\na\0b\n")
    assert mime.section(msg, Section(text="TEXT")) == b"a\x80b\r\n"
    assert mime.binary(msg, (1,)) == b"a\0b\r\n"


def test_header_fields_rules():
    header = b"Subject: one\r\nX-A: 1\r\n two\r\nFrom : f\r\n\r\n"
    assert mime.header_fields(header, ("x-a", "FROM"), False) == b"X-A: 1\r\n two\r\nFrom : f\r\n\r\n"
    assert mime.header_fields(header, ("X-A",), True) == b"Subject: one\r\nFrom : f\r\n\r\n"
    cut = b"Subject: one\r\nX-A: 1"
    assert mime.header_fields(cut, ("X-A",), False) == b"X-A: 1\r\n\r\n"
    assert mime.header_fields(cut, ("SUBJECT",), True) == b"X-A: 1"


def test_binary_decodes_and_rejects_unknown_encodings():
    msg = mime.to_crlf(b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n--q\n"
                       b"Content-Transfer-Encoding: base64\n\naGVsbG8=\n--q\n"
                       b"Content-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9=\n!\n"
                       b"--q\nContent-Transfer-Encoding: x-uue\n\nzz\n--q--\n")
    assert mime.binary(msg, (1,)) == b"hello"
    assert mime.binary(msg, (2,)) == "café!".encode()
    assert mime.binary_size(msg, (2,)) == len("café!".encode())
    with pytest.raises(mime.UnknownCTE):
        mime.binary(msg, (3,))
    assert mime.binary(msg, (4,)) is None


def test_decoded_headers_and_bodies():
    msg = mime.to_crlf(
        b"Subject: =?ISO-8859-1?Q?caf=E9?= =?utf-8?b?w6k=?=\n and\n"
        b"To: =?x-unknown?q?abc?= <a@b>\nDate: Tue, 3 Mar 2020 23:30:00 -0500\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=q\n\n"
        b"--q\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        b"na=EFve\n--q\nContent-Type: text/html; charset=bogus\n\n<b>\xc3\xa9\xff</b>\n"
        b"--q\nContent-Type: image/png\n\nnot text\n--q--\n")
    assert mime.decoded_headers(msg, "subject") == ["caféé and"]
    assert mime.decoded_headers(msg, "TO") == ["abc <a@b>"]
    assert mime.decoded_headers(msg, "cc") == []
    assert "Subject: caféé and" in mime.all_decoded_headers(msg)
    assert list(mime.decoded_body_texts(msg)) == ["naïve", "<b>é\ufffd</b>"]
    sent = mime.date_header(msg)
    assert sent is not None and sent.date() == date(2020, 3, 3)
    assert mime.date_header(mime.to_crlf(b"Date: someday\n\nx")) is None
    assert mime.date_header(mime.to_crlf(b"Subject: none\n\nx")) is None


def test_envelope_of_enclosed_message():
    msg = mime.to_crlf(b"Subject: outer\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: i@x\n\nb\n")
    root = mime.parse(msg)
    assert root.is_message and root.message is not None
    inner = mime.envelope(msg, root)
    assert inner == mime.envelope(msg, root.message)
    assert inner.startswith(b'(NIL "inner" ((NIL NIL "i" "x"))')
    assert mime.envelope(msg).startswith(b'(NIL "outer" NIL')


def test_importing_mime_does_not_import_email():
    code = "import sys, imapsession.mime; print('email' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
