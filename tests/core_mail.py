"""Awkward test messages for the protocol core, written byte for byte into a maildir.

Each message is raw bytes (not built by the ``email`` package) so that line
endings, NUL octets, missing final newlines and raw 8-bit headers are exactly
what a server meets on disk. The Date header and the file's mtime (INTERNALDATE)
differ on purpose, so BEFORE/ON/SINCE and SENTBEFORE/SENTON/SENTSINCE give
different answers. File names increase in list order, so every server assigns
UIDs 1..n in list order.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import attrs

_DAY = 86400


@attrs.frozen
class CoreMessage:
    data: bytes
    flags: str | None  # Maildir letters after ":2,"; None: delivered into new/
    internal: datetime  # the file's mtime

    @property
    def crlf(self) -> bytes:
        """The message as IMAP sends it: every bare LF turned into CRLF."""
        return self.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _utc(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=timezone.utc)


def _long_lf_body() -> bytes:
    """About 12 KB of LF lines of varying length, so partial offsets land everywhere."""
    lines = []
    for i in range(300):
        lines.append(b"line %04d " % i + b"abcdefghij"[: i % 11] * (1 + i % 5))
    return b"\n".join(lines) + b"\n"


def _multipart(eol: bytes) -> bytes:
    text = b"""From: Carol <carol@example.org>
To: Dave <dave@example.net>
Cc: Erin <erin@example.com>
Subject: Quarterly report attached
Date: Tue, 05 Mar 2024 09:30:00 +0100
Message-ID: <multi-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

This is a multi-part message in MIME format.
--XYZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

The report is attached. Gr=C3=BC=C3=9Fe, Carol. needle-qp
--XYZ
Content-Type: application/octet-stream; name="report.bin"
Content-Disposition: attachment; filename="report.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
--XYZ--
"""
    return text.replace(b"\n", eol)


MESSAGES: tuple[CoreMessage, ...] = (
    # 1: plain LF, seen
    CoreMessage(
        b"From: Alice Example <alice@example.com>\n"
        b"To: Bob <bob@example.net>\n"
        b"Subject: Lunch plans\n"
        b"Date: Mon, 15 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <lf-1@example.com>\n"
        b"\n"
        b"Shall we meet at noon?\nThe usual place.\n",
        "S", _utc(2024, 1, 16)),
    # 2: CRLF file, flagged and seen
    CoreMessage(
        b"From: Bob <bob@example.net>\r\n"
        b"To: Alice Example <alice@example.com>\r\n"
        b"Subject: Re: Lunch plans\r\n"
        b"Date: Tue, 16 Jan 2024 11:15:00 +0100\r\n"
        b"In-Reply-To: <lf-1@example.com>\r\n"
        b"X-Custom: yes\r\n"
        b"\r\n"
        b"Noon works. See you there.\r\n",
        "FS", _utc(2024, 1, 20)),
    # 3: NUL byte in the body, answered
    CoreMessage(
        b"From: Mallory <mallory@example.org>\n"
        b"To: bob@example.net\n"
        b"Subject: binary junk\n"
        b"Date: Wed, 31 Jan 2024 23:59:59 -0800\n"
        b"\n"
        b"before\x00after the NUL needle\n",
        "RS", _utc(2024, 2, 1, 8)),
    # 4: no final newline, unseen
    CoreMessage(
        b"From: Trent <trent@example.com>\n"
        b"Subject: no newline at the end\n"
        b"Date: Thu, 01 Feb 2024 12:00:00 +0000\n"
        b"\n"
        b"This body stops without a line ending",
        "", _utc(2024, 2, 1, 12)),
    # 5: raw 8-bit UTF-8 in headers (no RFC 2047), flagged
    CoreMessage(
        "From: Jürgen Müller <juergen@example.de>\n"
        "To: bob@example.net\n"
        "Subject: Grüße aus Köln\n"
        "Date: Sat, 10 Feb 2024 08:00:00 +0100\n"
        "\n"
        "Schöne Grüße, wörtlich.\n".encode(),
        "F", _utc(2024, 2, 10, 9)),
    # 6: long LF message for partials that straddle an LF turned into CRLF
    CoreMessage(
        b"From: Logger <logs@example.com>\n"
        b"To: ops@example.com\n"
        b"Subject: Nightly log report\n"
        b"Date: Fri, 01 Mar 2024 02:00:00 +0000\n"
        b"\n" + _long_lf_body(),
        "S", _utc(2024, 3, 1, 2, 5)),
    # 7: multipart CRLF, RFC 2047 subject-free, quoted-printable text and base64 part
    CoreMessage(_multipart(b"\r\n"), "S", _utc(2024, 3, 5, 9)),
    # 8: RFC 2047 subject, folded header lines, duplicate Received, deleted
    CoreMessage(
        b"Received: from a.example by b.example; Sun, 7 Apr 2024 10:00:00 +0000\n"
        b"Received: from c.example by a.example; Sun, 7 Apr 2024 09:59:00 +0000\n"
        b"From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.com>\n"
        b"To: team@example.com,\n"
        b"  alice@example.com\n"
        b"Subject: =?UTF-8?B?8J+OiSBwYXJ0eSB0aW1l?=\n"
        b"Date: Sun, 07 Apr 2024 10:00:00 +0000\n"
        b"X-Long-Header: first part of a long value\n"
        b"\tcontinued on a second line\n"
        b"\n"
        b"Party on Friday, bring cake.\n",
        "ST", _utc(2024, 4, 7, 10, 1)),
    # 9: header only, no blank line, no body; draft
    CoreMessage(
        b"From: drafts@example.com\n"
        b"Subject: header only\n"
        b"Date: Mon, 15 Apr 2024 15:00:00 +0000\n",
        "D", _utc(2024, 4, 15, 15)),
    # 10: empty body after the blank line; in new/
    CoreMessage(
        b"From: Alice Example <alice@example.com>\n"
        b"To: bob@example.net\n"
        b"Cc: carol@example.org\n"
        b"Bcc: secret@example.com\n"
        b"Subject: empty body\n"
        b"Date: Wed, 01 May 2024 00:00:00 +0000\n"
        b"\n",
        None, _utc(2024, 5, 1, 0, 30)),
    # 11: mixed line endings, keyword $Important (letter a), seen
    CoreMessage(
        b"From: Bob <bob@example.net>\r\n"
        b"Subject: mixed endings REPORT\n"
        b"Date: Thu, 16 May 2024 16:16:00 +0200\r\n"
        b"\n"
        b"first line CRLF\r\nsecond line LF\nthird\r\n",
        "Sa", _utc(2024, 5, 16, 14, 20)),
    # 12: bigger message in new/, Date header far from INTERNALDATE
    CoreMessage(
        b"From: Newsletter <news@lists.example.com>\n"
        b"To: bob@example.net\n"
        b"Subject: Monthly digest\n"
        b"Date: Fri, 01 Dec 2023 06:00:00 +0000\n"
        b"List-Id: <digest.lists.example.com>\n"
        b"\n" + b"Digest entry with some words in it.\n" * 60,
        None, _utc(2024, 6, 1, 6)),
)

KEYWORDS = {"a": "$Important"}

# The long LF message, for partial FETCH tests.
LONG = 6


def file_name(index: int, message: CoreMessage) -> str:
    base = f"{1700000000 + index}.M{index:06d}P100.core,S={len(message.data)}"
    return base if message.flags is None else f"{base}:2,{message.flags}"


def write_core_maildir(path: str) -> None:
    """Write INBOX (and an empty ``Archive`` folder, for COPY) with the messages above."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for index, message in enumerate(MESSAGES, start=1):
        folder = "new" if message.flags is None else "cur"
        target = os.path.join(path, folder, file_name(index, message))
        with open(target, "wb") as f:
            f.write(message.data)
        stamp = message.internal.timestamp()
        os.utime(target, (stamp, stamp))
    with open(os.path.join(path, "dovecot-keywords"), "w") as f:
        for letter, name in KEYWORDS.items():
            f.write(f"{ord(letter) - ord('a')} {name}\n")
    archive = os.path.join(path, ".Archive")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(archive, sub), exist_ok=True)
    open(os.path.join(archive, "maildirfolder"), "wb").close()
