"""Mail storage: the interface in ``base``, the Maildir backend in ``maildir``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imapsession.storage.base import MailStore


def open_maildir(root: str, *, create: bool = True) -> MailStore:
    """Open a Maildir store (imported lazily: sqlite3 is not needed before login)."""
    from imapsession.storage.maildir import open_maildir as _open

    return _open(root, create=create)
