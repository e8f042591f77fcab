"""Large messages go out in chunks (bounded memory), byte-identical to the
in-memory path: CRLF conversion across chunk edges, partials, NUL as 0x80."""

from __future__ import annotations

import random

import pytest

from imapproc import spawn_ours, status_of
from imapsession import mime
from imapsession.commands import fetch
from imapsession.session import Session
from imapsession.storage.maildir import open_maildir


def _ugly_message(size: int, seed: int) -> bytes:
    """LF, CRLF and bare CR line ends and NULs, so chunk edges land on every case."""
    rng = random.Random(seed)
    parts = [b"From: big@example.org\nSubject: big\n\n"]
    total = 0
    while total < size:
        line = bytes(rng.choice(b"abcxyz \x00") for _ in range(rng.randint(0, 90)))
        line += rng.choice([b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n"])
        parts.append(line)
        total += len(line)
    return b"".join(parts)


def _literal(response: bytes) -> bytes:
    head, _, rest = response.partition(b"}\r\n")
    size = int(head.rsplit(b"{", 1)[1])
    return rest[:size]


@pytest.fixture
def small_chunks(monkeypatch):
    # chunk edges every 4,099 octets and streaming from 64 KiB: many edges, fast test
    monkeypatch.setattr(fetch, "_CHUNK", 4099)
    monkeypatch.setattr(fetch, "STREAM_OVER", 64 * 1024)


@pytest.mark.parametrize("seed", range(4))
def test_streamed_body_equals_the_in_memory_wire_form(tmp_path, small_chunks, seed):
    raw = _ugly_message(300_000, seed)
    wire = mime.to_crlf(raw).replace(b"\x00", b"\x80")
    store = open_maildir(str(tmp_path / "M"))
    session = Session(store, "tester")
    session.receive(b"a APPEND INBOX {%d}\r\n" % len(raw) + raw + b"\r\nb SELECT INBOX\r\n")
    size = len(mime.to_crlf(raw))
    rfc822 = session.receive(b"s FETCH 1 RFC822.SIZE\r\n")
    assert b"RFC822.SIZE %d" % size in rfc822
    assert _literal(session.receive(b"c FETCH 1 BODY.PEEK[]\r\n")) == wire
    assert _literal(session.receive(b"d FETCH 1 RFC822\r\n")) == wire
    for origin, length in ((0, 10), (4098, 3), (4099, 1), (size - 5, 100), (size + 10, 5),
                           (123_457, 100_000)):
        answer = session.receive(b"e FETCH 1 BODY.PEEK[]<%d.%d>\r\n" % (origin, length))
        assert _literal(answer) == wire[origin:origin + length], (origin, length)
        assert b"BODY[]<%d> {" % origin in answer
    session.leave_selected()
    store.close()


def test_a_100_mb_message_is_fetched_in_bounded_memory():
    proc = spawn_ours(None, timeout=120)
    with proc:
        body = (b"y" * 76 + b"\n") * (100_000_000 // 77)  # 100 MB, under APPENDLIMIT
        message = b"From: big@example.org\nSubject: huge\n\n" + body
        assert status_of(proc.command("APPEND INBOX", [message])) == b"OK"
        proc.command("SELECT INBOX")
        answer = proc.command("FETCH 1 BODY.PEEK[]", timeout=120)
        assert len(answer[0]) > len(message)  # the literal, CRLF-converted, came whole
        assert answer[0].endswith(b"y\r\n)\r\n")
        proc.logout()
    # the message is over 100 MB on the wire; the server never held it whole
    assert proc.peak_rss_kb is not None and proc.peak_rss_kb < 80 * 1024, proc.peak_rss_kb
