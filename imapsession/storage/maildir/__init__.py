"""The Maildir++ backend: files as Dovecot and Courier lay them out, facts in the index.

Theory of operation
-------------------
Files are the truth. A message is ``cur/<base>:2,<letters>`` (or ``new/<base>``
before a read-write session has seen it); ``<base>`` never changes, so it is
the key the index maps UIDs to (``filenames``); the letters are its flags
(``keywords``).

Every change happens inside the index's ``BEGIN IMMEDIATE`` transaction, so the
database write lock also serialises our file operations: among our processes a
file is never renamed under another writer's feet. Readers take no lock; if the
file they were told about has just been renamed they re-read the row, and if it
is still missing they rescan.

Split the way Dovecot splits its maildir driver, one job per module:

- ``store``: the folder tree (LIST, CREATE, DELETE, RENAME), subscriptions, STATUS;
- ``folder``: one folder's index rows and the directory scan (maildir-sync);
- ``mailbox``: a selected mailbox: sync, reading, sizes and dates, STORE (maildir-mail);
- ``save``: APPEND, tmp/ -> new/ or cur/ (maildir-save);
- ``copy``: COPY, MOVE and the unlinking EXPUNGE does (maildir-copy);
- ``keywords``: the ``dovecot-keywords`` letter map (maildir-keywords);
- ``uidlist``: Dovecot's ``dovecot-uidlist`` and our UIDVALIDITY marker (maildir-uidlist);
- ``filenames``: what a message file's name carries.

What the mbox backend shares lives in ``imapsession.storage``: ``flags``,
``changes`` (tombstones, ``sync(since)``, snapshots), ``rows``, ``cache``,
``spool``, ``meta``, ``names``, ``subscriptions`` and the ``index``.
"""

from imapsession.storage.maildir.filenames import split_name
from imapsession.storage.maildir.keywords import Keywords
from imapsession.storage.maildir.mailbox import MaildirMailbox
from imapsession.storage.maildir.store import MaildirStore, open_maildir

__all__ = ["Keywords", "MaildirMailbox", "MaildirStore", "open_maildir", "split_name"]
