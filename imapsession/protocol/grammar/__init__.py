"""RFC 3501 command grammar: a framed command in, a ``Command`` or ``ParseError`` out.

Each command's argument shape (``Command.args``):

===================  ===========================================================
CAPABILITY NOOP      ()
LOGOUT CHECK CLOSE   ()
UNSELECT NAMESPACE   ()
EXPUNGE              () ; UID EXPUNGE: (SequenceSet,)
LOGIN                (user: bytes, password: bytes)
AUTHENTICATE         (mechanism: str, initial_response: bytes | None)
SELECT EXAMINE       (mailbox: str, ) ; CREATE DELETE SUBSCRIBE UNSUBSCRIBE too
RENAME               (old: str, new: str)
LIST LSUB            (reference: str, pattern: str)
STATUS               (mailbox: str, items: tuple[str, ...])
APPEND               (mailbox: str, flags: frozenset | None, date: datetime | None,
                      message: bytes | sink)
FETCH                (SequenceSet, items: tuple[FetchItem, ...])
STORE                (SequenceSet, mode: "set"|"add"|"remove", silent: bool,
                      flags: frozenset[str])
SEARCH               (charset: str | None, key: SearchKey)  # key is an AND node
COPY MOVE            (SequenceSet, mailbox: str)
ID                   (params: tuple[tuple[str, str | None], ...] | None)
ENABLE               (capabilities: tuple[str, ...])
IDLE                 ()
===================  ===========================================================

Mailbox names are returned as sent (modified UTF-7 text); handlers decode them.
Each command family's parser lives in its own module (``fetch``, ``search``,
``store``, ``mailbox``, ``list``, ``append``, ``auth``, ``any``, ``copy_move``,
``expunge``) on the shared ``reader``; ``dispatch`` holds the table that joins them.
"""

from __future__ import annotations

# the public names, re-exported as such ("X as X", not __all__: no new string constants
# for Hypothesis to draw from, so the fuzzer's fixed seeds explore as before the split)
from imapsession.protocol.grammar.dispatch import parse_command as parse_command
from imapsession.protocol.grammar.reader import ParseError as ParseError
from imapsession.protocol.grammar.reader import tag_of as tag_of
