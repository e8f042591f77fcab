"""A ~100 MB multipart message (a huge base64 attachment), stored with CRLF and
with LF only, fetched through the real binary: structure, sections, partials
and BINARY come out right while the server's peak RSS stays under 80 MB
(issue "Message structure to the byte": bounded memory for a 100 MB message).
"""

from __future__ import annotations

import base64
import re

from imapproc import spawn_ours, status_of

_CHUNK = bytes(range(57))
_LINE = base64.b64encode(_CHUNK)  # 76 octets
_LINES = 95_000_000 // 78


def _message(newline: bytes) -> bytes:
    head = newline.join([
        b"From: Big <big@example.org>", b"To: you@example.org", b"Subject: huge",
        b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="XYZ"', b"",
        b"preamble", b"--XYZ", b"Content-Type: text/plain", b"", b"hello", b"--XYZ",
        b"Content-Type: application/octet-stream", b"Content-Transfer-Encoding: base64", b"", b""])
    return head + (_LINE + newline) * _LINES + b"--XYZ--" + newline


def _literal(response: bytes) -> bytes:
    match = re.search(rb"~?\{(\d+)\}\r\n", response)
    assert match, response[:200]
    return response[match.end() : match.end() + int(match.group(1))]


def test_structure_sections_and_binary_of_100_mb_in_bounded_memory():
    messages = [_message(b"\r\n"), _message(b"\n")]
    # BODY[2] in wire form, both messages (the last newline belongs to the boundary)
    attachment = ((_LINE + b"\r\n") * _LINES)[:-2]
    decoded = _CHUNK * _LINES
    proc = spawn_ours(None, timeout=180)
    with proc:
        for message in messages:
            assert status_of(proc.command("APPEND INBOX", [message])) == b"OK"
        proc.command("SELECT INBOX")
        for n in (1, 2):
            answer = b"".join(proc.command(
                f"FETCH {n} (BODYSTRUCTURE ENVELOPE BODY.PEEK[1] BODY.PEEK[2.MIME])"))
            assert (b'("application" "octet-stream" NIL NIL NIL "base64" %d NIL NIL NIL NIL)'
                    % len(attachment)) in answer
            assert b'ENVELOPE (NIL "huge" (("Big" NIL "big" "example.org"))' in answer
            assert b"BODY[1] {5}\r\nhello" in answer
            mime_header = (b"Content-Type: application/octet-stream\r\n"
                           b"Content-Transfer-Encoding: base64\r\n\r\n")
            assert b"BODY[2.MIME] {%d}\r\n" % len(mime_header) + mime_header in answer
            for origin, length in ((0, 1000), (50_000_000, 1000), (len(attachment) - 10, 100)):
                answer = proc.command(f"FETCH {n} BODY.PEEK[2]<{origin}.{length}>")[0]
                assert _literal(answer) == attachment[origin : origin + length]
            answer = proc.command(f"FETCH {n} BINARY.SIZE[2]")[0]
            assert b"BINARY.SIZE[2] %d" % len(decoded) in answer
            answer = proc.command(f"FETCH {n} BINARY.PEEK[2]", timeout=180)[0]
            assert b"BINARY[2] ~{%d}\r\n" % len(decoded) in answer
            assert _literal(answer) == decoded
        proc.logout()
    assert proc.peak_rss_kb is not None and proc.peak_rss_kb < 80 * 1024, proc.peak_rss_kb
