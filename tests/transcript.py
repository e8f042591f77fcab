"""Transcript tests through the sans-I/O core: a Session on a fresh maildir.

A transcript is written the way RFCs show one::

    run(client, '''
        C: a select inbox
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * OK [PERMANENTFLAGS (<*>)] Flags permitted.
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY <n>] UIDs valid
        S: * OK [UIDNEXT 1] Predicted next UID
        S: a OK [READ-WRITE] Select completed.
    ''')

Consecutive ``C:`` lines are sent together in one ``receive()`` call (each
ending in CRLF), which is also how pipelining is tested; the ``S:`` lines
that follow must match the server's whole answer, line by line, in order.
In ``S:`` lines everything is literal except these placeholders:

``<n>``     one or more digits
``<date>``  an IMAP date-time, e.g. ``17-Jul-1996 02:44:25 -0700``
``<*>``     any text (not a line break)

``C:`` or ``S:`` alone is an empty line. ``C+`` sends its text without a line ending (to split a command), ``C~`` sends it
with a bare LF. Every answer is checked for a Python traceback and, unless
the client was made with ``allow_serverbug=True``, for ``[SERVERBUG]``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from imapsession.session import Limits, Session
from imapsession.storage.maildir import open_maildir

BACKEND = "maildir"  # the storage a Client opens; conftest.py runs transcripts on each

DATE_TIME = r'\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}'
_PLACEHOLDERS = {"<n>": r"\d+", "<date>": DATE_TIME, "<*>": r"[^\r\n]*"}
_PLACEHOLDER_SPLIT = re.compile(r"(<n>|<date>|<\*>)")


def line_pattern(expected: str) -> re.Pattern[str]:
    """An ``S:`` line as a regex: literal text with placeholders."""
    pieces = _PLACEHOLDER_SPLIT.split(expected)
    return re.compile("".join(_PLACEHOLDERS.get(p, re.escape(p)) for p in pieces))


class Client:
    """One Session on a maildir, fed bytes as a client would send them."""

    def __init__(self, root: Path | str, limits: Limits | None = None, allow_serverbug: bool = False):
        self.root = Path(root)
        self.backend = BACKEND
        if BACKEND == "mbox":  # folders under root/mail, INBOX root/mail/inbox; see drain_new
            from imapsession.storage.mbox import open_mbox

            self.store = open_mbox(str(self.root / "mail"))
            (self.root / "new").mkdir(exist_ok=True)
        else:
            self.store = open_maildir(str(self.root))
        self.session = Session(self.store, "tester", limits=limits or Limits())
        self.greeting = self.session.greeting().decode()
        self.allow_serverbug = allow_serverbug
        self.log: list[str] = []

    def send(self, data: bytes | str) -> bytes:
        """Raw bytes in, raw bytes out (checked for tracebacks)."""
        if isinstance(data, str):
            data = data.encode()
        if self.backend == "mbox":  # a test's delivery into new/ reaches the mbox as an MDA's
            from mbox_helpers import drain_new

            drain_new(self.root, self.root / "mail" / "inbox")
        out = self.session.receive(data)
        self.log.append(f"C: {data!r}\nS: {out!r}")
        text = out.decode("utf-8", "replace")
        assert "Traceback" not in text, text
        assert 'File "' not in text, text
        if not self.allow_serverbug:
            assert "[SERVERBUG]" not in text, text
        return out

    def lines(self, data: bytes | str) -> list[str]:
        """Send and split the answer into lines (without CRLF)."""
        out = self.send(data).decode("utf-8", "replace")
        assert out == "" or out.endswith("\r\n"), repr(out)
        return out.split("\r\n")[:-1] if out else []

    def cmd(self, line: str) -> list[str]:
        """One command line (CRLF added); its answer as lines."""
        return self.lines(line + "\r\n")

    def tagged(self, line: str) -> str:
        """One command line; only its last (tagged) answer line."""
        return self.cmd(line)[-1]

    def ok(self, line: str) -> list[str]:
        """A command that must complete OK; its answer lines."""
        answer = self.cmd(line)
        tag = line.split(" ", 1)[0]
        assert answer and answer[-1].startswith(f"{tag} OK"), answer
        return answer

    def append(self, message: bytes | str, mailbox: str = "INBOX", flags: str = "",
               date: str = "") -> int:
        """APPEND with a non-synchronising literal; the new message's UID."""
        if isinstance(message, str):
            message = message.encode()
        extra = (f" ({flags})" if flags else "") + (f' "{date}"' if date else "")
        head = f"ap APPEND {mailbox}{extra} {{{len(message)}+}}\r\n".encode()
        answer = self.lines(head + message + b"\r\n")
        match = re.fullmatch(r"ap OK \[APPENDUID \d+ (\d+)\] .*", answer[-1])
        assert match, answer
        return int(match.group(1))

    @property
    def finished(self) -> bool:
        return self.session.finished


def run(client: Client, script: str) -> None:
    """Play a ``C:``/``S:`` transcript against ``client``; fail on the first difference."""
    steps: list[tuple[str, list[str]]] = []  # (bytes to send, expected lines)
    sending: list[str] = []
    expecting: list[str] = []

    def flush() -> None:
        if sending or expecting:
            steps.append(("".join(sending), list(expecting)))
        sending.clear()
        expecting.clear()

    for raw in textwrap.dedent(script).splitlines():
        line = raw.strip("\n")
        if not line.strip():
            continue
        kind, _, text = line.lstrip().partition(" ")
        if kind in ("C:", "C+", "C~"):
            if expecting:
                flush()
            sending.append(text + {"C:": "\r\n", "C+": "", "C~": "\n"}[kind])
        elif kind == "S:":
            expecting.append(text)
        else:
            raise ValueError(f"transcript line must start with C:, C+, C~ or S: {line!r}")
    flush()
    for data, expected in steps:
        got = client.lines(data)
        mismatch = len(got) != len(expected) or not all(
            line_pattern(e).fullmatch(g) for e, g in zip(expected, got, strict=True)
        )
        if mismatch:
            want = "\n".join("S: " + e for e in expected)
            have = "\n".join("S: " + g for g in got)
            raise AssertionError(f"after C: {data!r}\nexpected:\n{want}\ngot:\n{have}")


def message(subject: str = "hello", body: str = "Hello world.\r\n", frm: str = "a@example.org",
            to: str = "b@example.org", date: str = "Mon, 7 Feb 1994 21:52:25 -0800",
            extra: str = "", eol: str = "\r\n") -> bytes:
    """A small RFC 5322 message."""
    head = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if extra:
        head += extra.split("\n")
    text = eol.join(head) + eol + eol + body.replace("\r\n", eol)
    return text.encode()
