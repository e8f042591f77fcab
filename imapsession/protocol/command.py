"""Parsed command values: what the grammar yields and the handlers consume."""

from __future__ import annotations

from typing import Any

import attrs

from imapsession.protocol.types import Section


@attrs.frozen
class Command:
    """One client command.

    ``name`` is upper case; ``UID FETCH`` is ``name="FETCH", uid=True``. ``args``
    holds the command's arguments in grammar order (see the ``grammar`` package for each
    command's shape). Mailbox names stay as sent (modified UTF-7); handlers decode.
    """

    tag: str
    name: str
    args: tuple[Any, ...] = ()
    uid: bool = False


@attrs.frozen
class FetchItem:
    """A fetch-att. ``name`` is e.g. "FLAGS", "BODY[]" (any section), "BINARY[]"."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None  # (origin, octet count)
    peek: bool = False

    @property
    def sets_seen(self) -> bool:
        """RFC 3501 6.4.5: body fetches without PEEK set \\Seen (RFC822.HEADER does not)."""
        return not self.peek and self.name in ("BODY[]", "BINARY[]", "RFC822", "RFC822.TEXT")


@attrs.frozen
class SearchKey:
    """A search-key node. ``AND`` holds a tuple of keys; ``OR`` two; ``NOT`` one."""

    name: str
    args: tuple[Any, ...] = ()


@attrs.frozen
class Spooled:
    """Marker type for literals the framer streamed to a sink (APPEND messages)."""

    sink: Any
