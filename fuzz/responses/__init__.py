"""An independent, strict parser of server responses, written from RFC 3501 section 9.

It shares no code with the server's serializer on purpose: a line the server
writes is only trusted if this parser, built from the formal syntax (plus the
extensions the server advertises: UIDPLUS, ID, ENABLE, NAMESPACE, BINARY,
RFC 5530 codes), accepts it. Anything else raises ``ResponseSyntaxError`` naming
the offset, so a fuzz failure points at the octet that broke the grammar.

``cursor`` is the shared tokenizer; ``parse`` cuts whole responses from the stream
and dispatches them. Each family's data has its module: ``codes`` (resp-text-code),
``fetch`` and ``body`` (msg-att; ENVELOPE and BODYSTRUCTURE), ``mailbox`` (FLAGS,
STATUS), ``list`` (LIST, LSUB, NAMESPACE), ``search``, ``any`` (CAPABILITY, ID,
ENABLED).
"""

from __future__ import annotations

# the public names, re-exported as such ("X as X", not __all__: see protocol/grammar)
from fuzz.responses.cursor import ResponseSyntaxError as ResponseSyntaxError
from fuzz.responses.parse import Response as Response
from fuzz.responses.parse import parse_response as parse_response
from fuzz.responses.parse import split_responses as split_responses
