"""The mbox backend: ``MAIL=mbox:ROOT[:INBOX=PATH]`` as Dovecot lays it out, facts in the index.

Theory of operation
-------------------
Writers take the index's write transaction first, then the mbox locks
(``lock``: dot-lock plus fcntl), so our processes queue on SQLite and MDAs
wait only while bytes move.

One job per module:

- ``store``: the tree of mbox files (LIST, CREATE, DELETE, RENAME), subscriptions, STATUS;
- ``folder``: one mbox file's rows in the index and bringing them up to date (the parse);
- ``mailbox``: a selected mailbox: sync, reading, STORE, EXPUNGE, COPY and MOVE;
- ``save``: APPEND (and COPY into an mbox) at the end of the file;
- ``rewrite``: changing the file in place (flag blocks, the tail after an EXPUNGE);
- ``stream``: a message read in chunks for FETCH;
- ``format``: parsing and rendering the file; ``lock``: locking; ``journal``: the
  rollback journal that makes a rewrite atomic.

What the Maildir backend shares lives in ``imapsession.storage``: ``flags``,
``changes`` (tombstones, ``sync(since)``, snapshots), ``rows``, ``cache``,
``spool``, ``meta``, ``names``, ``subscriptions`` and the ``index``.
"""

from imapsession.storage.mbox.mailbox import MboxMailbox
from imapsession.storage.mbox.store import MboxStore, open_mbox

__all__ = ["MboxMailbox", "MboxStore", "open_mbox"]
