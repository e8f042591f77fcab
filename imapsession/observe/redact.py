"""What must never be written: passwords, SASL payloads, anything named like a secret.

One module decides, so the log, crash reports and rawlog hide the same things.
"""

from __future__ import annotations

import re

HIDDEN = b"<hidden>"
_SECRET_NAME = re.compile(r"pass|secret|hash|token|credential|sasl|key", re.I)
# modules whose frames may hold credentials: none of their locals are ever written
SECRET_MODULES = ("imapsession.auth", "imapsession.login", "imapsession.commands.auth")
# commands whose arguments carry credentials
SECRET_COMMANDS = frozenset({b"LOGIN", b"AUTHENTICATE"})
_LITERAL_AT_END = re.compile(rb"\{(\d{1,10})\+?\}(\r?\n)?\Z")


def secret_name(name: str) -> bool:
    """True for a variable or field name that speaks of a password, secret, hash or token."""
    return bool(_SECRET_NAME.search(name))


def secret_module(module: str | None) -> bool:
    return bool(module) and module.startswith(SECRET_MODULES)


def command_name(line: bytes) -> bytes:
    """The upper-cased command name of a command line (after its tag), or b""."""
    words = line.rstrip(b"\r\n").split(b" ", 3)
    if len(words) < 2:
        return b""
    name = words[1].upper()
    if name == b"UID" and len(words) > 2:
        return words[2].upper()
    return name


def _hide_line(line: bytes, keep_words: int) -> bytes:
    """Keep the first words and a trailing literal announcement; hide the rest."""
    match = _LITERAL_AT_END.search(line)
    body = (line[:match.start()] if match else line.rstrip(b"\r\n")).rstrip(b" ")
    ending = line[match.start():] if match else line[len(line.rstrip(b"\r\n")):]
    words = body.split(b" ")
    kept = [w for w in words[:keep_words] if not w.startswith(b"{")]
    hidden_part = b" ".join(words[len(kept):]).strip()
    pieces = kept + ([HIDDEN] if hidden_part else [])
    if match:
        return b" ".join(pieces) + (b" " if pieces else b"") + ending
    return b" ".join(pieces) + ending


def redact_command_line(line: bytes) -> bytes:
    """A command's first line with its credentials replaced by ``<hidden>``.

    LOGIN keeps the user name (useful, not secret); AUTHENTICATE keeps the
    mechanism; everything after them is hidden.
    """
    if command_name(line) not in SECRET_COMMANDS:
        return line
    return _hide_line(line, 3)


class InputRedactor:
    """Client bytes in, the same bytes with credentials hidden out (for rawlog).

    It follows line and literal framing just far enough to know which parts of
    a LOGIN or AUTHENTICATE are secret: the rest of their first line, their
    literals, and for AUTHENTICATE every client line until the server's tagged
    answer (``note_server``).
    """

    def __init__(self) -> None:
        self._line = bytearray()
        self._literal_left = 0
        self._secret_command = False  # inside a LOGIN/AUTHENTICATE continued by literals
        self._sasl_tag: bytes | None = None  # AUTHENTICATE awaiting its tagged answer
        self._sasl_turn = False  # the server sent "+": the next client line is a SASL response

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        index = 0
        while index < len(data):
            if self._literal_left:
                take = min(self._literal_left, len(data) - index)
                if not self._secret_command:
                    out += data[index:index + take]
                self._literal_left -= take
                index += take
                if not self._literal_left and self._secret_command:
                    out += HIDDEN
                continue
            end = data.find(b"\n", index)
            if end < 0:
                self._line += data[index:]
                break
            self._line += data[index:end + 1]
            index = end + 1
            out += self._line_done(bytes(self._line))
            self._line.clear()
        return bytes(out)

    def _line_done(self, line: bytes) -> bytes:
        match = _LITERAL_AT_END.search(line)
        if self._sasl_turn and not self._secret_command:
            self._sasl_turn = False
            return HIDDEN + line[len(line.rstrip(b"\r\n")):]  # a SASL response line
        if self._secret_command:
            shown = _hide_line(line, 0)
        elif command_name(line) in SECRET_COMMANDS:
            if command_name(line) == b"AUTHENTICATE":
                self._sasl_tag = line.split(b" ", 1)[0]
            self._secret_command = True
            shown = redact_command_line(line)
        else:
            return self._plain(line, match)
        if match:
            self._literal_left = int(match.group(1))
        else:
            self._secret_command = False
        return shown

    def _plain(self, line: bytes, match: re.Match[bytes] | None) -> bytes:
        if match:
            self._literal_left = int(match.group(1))
        return line

    def note_server(self, data: bytes) -> None:
        """Server output: "+" asks for a SASL response; the tagged answer ends the exchange."""
        if self._sasl_tag is None:
            return
        for line in data.split(b"\n"):
            if line.startswith(b"+"):
                self._sasl_turn = True
            elif line.startswith(self._sasl_tag + b" "):
                self._sasl_tag = None
                self._sasl_turn = False
                return
