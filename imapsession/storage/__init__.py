"""Mail storage: the interface in ``base``, the Maildir and mbox backends.

Each backend is a package (``maildir/``, ``mbox/``) whose ``__init__`` is its entry
point; neither imports the other. What both use lives here, one job per module:
``flags`` (flag texts, sets and checks), ``changes`` (tombstones and the answer to
``sync(since)`` with its snapshots), ``rows`` (the mailbox row), ``cache``
(ENVELOPE and the like), ``spool`` (APPEND literals on disk), ``meta`` (sizes and
dates), ``names`` (the name gate), ``subscriptions``, ``index`` (the SQLite file) and
``modes`` (the mode of everything we create, from the mail root's).
The backends are imported lazily, below: sqlite3 is not needed before login.
"""

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
