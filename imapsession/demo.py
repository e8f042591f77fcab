"""Sample mail for ``imapsession --demo``: a throw-away Maildir++ a newcomer can explore.

The tree is written directly as files (no storage package) so the demo shows
the server reading what any MDA would have delivered: INBOX plus ``Work`` and
``Lists``, a few dozen messages covering what clients stumble on (multipart
alternatives, attachments, a forwarded message, RFC 2047 headers in German,
Japanese and emoji), file names in Dovecot's style with flags after ``:2,``,
and each file's mtime set to its date, which is what becomes INTERNALDATE.
Everything is deterministic except the pid in the file names.

Imported only for ``--demo``, so its ``email`` import costs nothing otherwise.
"""

from __future__ import annotations

import os
import struct
import zlib
from datetime import datetime, timedelta, timezone
from email import charset as _charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parsedate_to_datetime

from imapsession.storage.modes import Modes

_DOMAIN = "imapsession.example"
_START = datetime(2024, 1, 8, 9, 14, 0, tzinfo=timezone(timedelta(hours=1)))

# Readable non-ASCII bodies: quoted-printable rather than the default base64.
_UTF8_QP = _charset.Charset("utf-8")
_UTF8_QP.body_encoding = _charset.QP

PEOPLE = [
    ("Ada Lovelace", "ada@analytical.example"),
    ("Jürgen Müller", "juergen@muenchen.example"),
    ("山田太郎", "taro@yamada.example"),
    ("Grace Hopper", "grace@navy.example"),
    ("Linus Example", "linus@kernel.example"),
    ("Zoë Ørsted", "zoe@copenhagen.example"),
]
ME = ("Demo User", f"demo@{_DOMAIN}")


def _png() -> bytes:
    """A valid 8x8 PNG (a small blue square), built by hand to stay dependency-free."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _pdf() -> bytes:
    """Bytes shaped like a tiny PDF: enough for a client to show an attachment icon."""
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def _text(body: str, subtype: str = "plain") -> MIMEText:
    """ASCII as 7bit; otherwise UTF-8, Japanese as base64 and the rest quoted-printable."""
    if body.isascii():
        return MIMEText(body, subtype, "us-ascii")
    if any("\u3040" <= ch <= "\u9fff" for ch in body):
        return MIMEText(body, subtype, "utf-8")
    return MIMEText(body, subtype, _UTF8_QP)


def _part(part: Message) -> Message:
    """A body part: MIME-Version belongs only at the top of a message (RFC 2045 section 4)."""
    del part["MIME-Version"]
    return part


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _headers(msg: Message, n: int, sender, subject: str, when: datetime, extra) -> Message:
    """The usual envelope headers first, RFC 2047-encoding whatever is not ASCII."""
    top = [("From", formataddr(sender, "utf-8")), ("To", formataddr(ME, "utf-8")),
           ("Subject", _header(subject)), ("Date", format_datetime(when)),
           ("Message-ID", f"<demo-{n}@{_DOMAIN}>")]
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    for name, value in top + [(k.replace("_", "-"), v) for k, v in extra.items()]:
        msg[name] = value
    # MIMEBase put its own headers first; move them after ours, as mail clients do.
    own = [(k, v) for k, v in msg._headers if k in ("Content-Type", "MIME-Version",
                                                      "Content-Transfer-Encoding")]
    msg._headers = [(k, v) for k, v in msg._headers if (k, v) not in own] + own
    return msg


def _plain(n, sender, subject, when, text, **extra) -> Message:
    return _headers(_text(text), n, sender, subject, when, extra)


def _alternative(n, sender, subject, when, text, html) -> Message:
    msg = MIMEMultipart("alternative", boundary=f"=-alt-{n}-=",
                        _subparts=[_part(_text(text)),
                                   _part(_text(f"<html><body>{html}</body></html>\n", "html"))])
    return _headers(msg, n, sender, subject, when, {})


def _with_attachment(n, sender, subject, when, text, data, maintype, subtype, filename):
    part = (MIMEImage(data, subtype) if maintype == "image"
            else MIMEApplication(data, subtype))
    part.add_header("Content-Disposition", "attachment", filename=filename)
    msg = MIMEMultipart("mixed", boundary=f"=-mixed-{n}-=", _subparts=[_part(_text(text)), _part(part)])
    return _headers(msg, n, sender, subject, when, {})


def _forward(n, sender, subject, when, text, inner: Message) -> Message:
    attached = MIMEMessage(inner)
    attached.add_header("Content-Disposition", "inline")
    msg = MIMEMultipart("mixed", boundary=f"=-fwd-{n}-=", _subparts=[_part(_text(text)), _part(attached)])
    return _headers(msg, n, sender, subject, when, {})


def _inbox(at) -> list[tuple[Message, str]]:
    """(message, flags) pairs; flags None means delivered to new/ and not yet seen."""
    ada, juergen, taro, grace, linus, zoe = PEOPLE
    welcome = (
        "Welcome! This mailbox was generated for this session and is thrown away\n"
        "when you log out. Things to try:\n\n"
        "  a list \"\" \"*\"\n  b select INBOX\n  c fetch 1:* (flags envelope)\n"
        "  d search unseen\n  e fetch 3 bodystructure\n  f logout\n"
    )
    lunch = _plain(100, grace, "Lunch on Thursday?", at(0, -3),
                   "Shall we try the new place near the harbour?\n\nGrace\n")
    return [
        (_plain(1, ME, "Welcome to imapsession", at(0), welcome), "S"),
        (_alternative(2, ada, "Notes on the Analytical Engine", at(1),
                      "The engine might compose elaborate pieces of music.\n",
                      "<p>The engine might compose <b>elaborate</b> pieces of music.</p>"), "S"),
        (_with_attachment(3, zoe, "Holiday photo", at(4), "A very small photo, as promised.\n",
                          _png(), "image", "png", "harbour.png"), "S"),
        (_with_attachment(4, grace, "Invoice 2024-017", at(9), "Please find the invoice attached.\n",
                          _pdf(), "application", "pdf", "invoice-2024-017.pdf"), "FS"),
        (_forward(5, linus, "Fwd: Lunch on Thursday?", at(12),
                  "Forwarding this, in case you missed it.\n", lunch), "S"),
        (_plain(6, juergen, "Grüße aus München", at(16),
                "Liebe Grüße aus München! Das Wetter ist schön, die Brezn sind frisch.\n"), "RS"),
        (_plain(7, taro, "会議の議事録について", at(21),
                "お疲れ様です。来週の会議の議事録を送ります。\nよろしくお願いします。\n"), "S"),
        (_plain(8, zoe, "🎉 Party on Friday 🎂", at(27),
                "Bring snacks 🍕 and good humour.\n"), "FS"),
        (_plain(9, ada, "Re: Notes on the Analytical Engine", at(30),
                "> The engine might compose elaborate pieces of music.\n\nIndeed it might.\n",
                In_Reply_To="<demo-2@imapsession.example>",
                References="<demo-2@imapsession.example>"), "S"),
        (_plain(10, grace, "Draft: talk abstract", at(33),
                "Nanoseconds, and why they matter.\n"), "DS"),
        (_alternative(11, linus, "Release 1.0 is out", at(41),
                      "Release 1.0 is out. Thanks to everyone who tested it.\n",
                      "<h1>Release 1.0</h1><p>Thanks to everyone who tested it.</p>"), "S"),
        (_plain(12, juergen, "Straßenfest am Samstag – Ankündigung", at(48),
                "Am Samstag ist Straßenfest. Wer hilft beim Aufbau?\n"), ""),
        (_plain(13, taro, "Re: 会議の議事録について", at(55),
                "ありがとうございます。確認しました。\n",
                In_Reply_To="<demo-7@imapsession.example>"), "RS"),
        (_plain(14, ada, "Old newsletter (deleted)", at(60),
                "This one is marked \\Deleted: EXPUNGE removes it.\n"), "ST"),
        (_alternative(15, zoe, "Weekend plans ☀️", at(70),
                      "Hiking if the sun shows up.\n", "<p>Hiking if the ☀️ shows up.</p>"), None),
        (_plain(16, grace, "Quick question", at(75), "Do you have a minute tomorrow?\n"), None),
        (_plain(17, linus, "Build broken on main", at(79),
                "The build fails since this morning; looking into it.\n"), None),
    ]


def _work(at) -> list[tuple[Message, str]]:
    ada, juergen, taro, grace, linus, zoe = PEOPLE
    return [
        (_plain(20, grace, "Quarterly planning", at(2),
                "Agenda: budget, hiring, the storage rewrite.\n"), "S"),
        (_with_attachment(21, ada, "Q1 report", at(15), "The Q1 report is attached.\n",
                          _pdf(), "application", "pdf", "q1-report.pdf"), "FS"),
        (_plain(22, juergen, "Übergabe des Projekts", at(26),
                "Die Übergabe ist für Montag geplant.\n"), "S"),
        (_alternative(23, linus, "Code review: sync module", at(38),
                      "Two comments on the sync module, nothing blocking.\n",
                      "<p>Two comments on the <code>sync</code> module, nothing blocking.</p>"), "RS"),
        (_plain(24, taro, "出張の予定", at(52), "来月、大阪に出張します。\n"), "S"),
        (_with_attachment(25, zoe, "Team photo", at(66), "From the offsite.\n",
                          _png(), "image", "png", "team.png"), ""),
        (_plain(26, grace, "Action items", at(77), "1. Ship it.\n2. Celebrate.\n"), None),
    ]


def _lists(at) -> list[tuple[Message, str]]:
    ada, juergen, taro, grace, linus, zoe = PEOPLE
    out = []
    topics = [
        ("[python-dev] PEP draft: faster startup", "Import time matters for short processes."),
        ("[python-dev] Re: PEP draft: faster startup", "Lazy imports would help here."),
        ("[imap] LITERAL+ and APPEND", "RFC 7888 says how non-synchronising literals work."),
        ("[imap] Re: LITERAL+ and APPEND", "And what to do when one is too big."),
        ("[dovecot] Maildir keywords", "The dovecot-keywords file maps letters to names."),
        ("[dovecot] Re: Maildir keywords", "Only 26 letters, a to z."),
        ("[python-dev] Ünïcödé in headers", "RFC 2047 encoded words, again."),
        ("[imap] SEARCH CHARSET UTF-8", "Servers must support UTF-8 in SEARCH."),
    ]
    senders = [ada, linus, grace, zoe, juergen, taro, ada, linus]
    for i, ((subject, text), sender) in enumerate(zip(topics, senders, strict=True)):
        list_name = subject[1 : subject.index("]")]
        msg = _plain(30 + i, sender, subject, at(3 + i * 10), text + "\n",
                     List_Id=f"<{list_name}.lists.example>",
                     List_Unsubscribe=f"<mailto:{list_name}-leave@lists.example>")
        out.append((msg, "S" if i < 6 else None))
    return out


def _write(folder: str, index: int, msg: Message, flags: str | None, pid: int,
           modes: Modes) -> None:
    """One file; flags are Maildir letters (D F R S T, sorted), None for new/."""
    data = msg.as_bytes()
    when = int(parsedate_to_datetime(msg["Date"]).timestamp())
    base = f"{when}.M{100000 + index}P{pid}.demo,S={len(data)}"
    if flags is None:
        path = os.path.join(folder, "new", base)
    else:
        path = os.path.join(folder, "cur", f"{base}:2,{''.join(sorted(flags))}")
    fd = modes.open(path)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.utime(path, (when, when))


def build_demo_maildir(path: str) -> None:
    """Fill ``path`` (created if missing) with INBOX, ``Work`` and ``Lists`` as Maildir++."""

    def at(days: float, hours: float = 0) -> datetime:
        return _START + timedelta(days=days, hours=hours + (days * 7) % 9)

    pid = os.getpid()
    modes = Modes.private()  # a throw-away maildir, but mail all the same: 0700/0600
    folders = {"": _inbox(at), ".Work": _work(at), ".Lists": _lists(at)}
    index = 0
    for name, messages in folders.items():
        folder = os.path.join(path, name) if name else path
        for sub in ("cur", "new", "tmp"):
            modes.mkdir(os.path.join(folder, sub))
        if name:
            modes.create_empty(os.path.join(folder, "maildirfolder"))
        for msg, flags in messages:
            index += 1
            _write(folder, index, msg, flags, pid, modes)
    modes.replace(os.path.join(path, "subscriptions"), b"Work\nLists\n", sync=False)
