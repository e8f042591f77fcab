"""Mail storage: the interface in ``base``, the Maildir and mbox backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imapsession.config import MailLocation
    from imapsession.storage.base import MailStore


def open_maildir(root: str, *, create: bool = True) -> MailStore:
    """Open a Maildir store (imported lazily: sqlite3 is not needed before login)."""
    from imapsession.storage.maildir import open_maildir as _open

    return _open(root, create=create)


def open_store(location: MailLocation, *, create: bool = True) -> MailStore:
    """The store ``MAIL=`` names: ``maildir:PATH`` or ``mbox:ROOT[:INBOX=PATH]``."""
    if location.format == "mbox":
        from imapsession.storage.mbox import open_mbox

        return open_mbox(location.path, location.option("INBOX"), create=create)
    return open_maildir(location.path, create=create)
