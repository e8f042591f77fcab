"""How a command ends: its tagged completion (``Done``) and the error that carries one.

Handlers return a ``Done`` (``ok``, ``no``, ``bad``) or raise ``CommandError``
from deep inside; the session writes the tagged line. This module is below both
the session and the handlers, so neither imports the other for it.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Done:
    """A command's tagged completion."""

    status: str  # "OK", "NO" or "BAD"
    text: str
    code: str | None = None

    def line(self, tag: str) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"{tag} {self.status} {code}{self.text}\r\n".encode("utf-8", "replace")


def ok(text: str = "Completed", code: str | None = None) -> Done:
    return Done("OK", text, code)


def no(text: str, code: str | None = None) -> Done:
    return Done("NO", text, code)


def bad(text: str, code: str | None = None) -> Done:
    return Done("BAD", text, code)


class CommandError(Exception):
    """Raised by handlers to end a command with NO or BAD."""

    def __init__(self, done: Done):
        super().__init__(done.text)
        self.done = done
