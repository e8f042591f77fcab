"""How a BAD answer shows the client's own bytes back: short, quoted, printable.

A parse error names the token it stopped at, so an admin reading a log (or a
client author reading the answer) sees what was wrong. The token is echoed only
through ``shown``: control bytes, DEL and 8-bit octets become ``\\xNN`` (never raw
on the wire, where a CR or LF would split the response), and anything past
``MAX_SHOWN`` characters is cut with ``...``. A backslash stays as sent, so a flag
reads ``"\\Bogus"``; ``\\xNN`` in an error always means one octet was replaced.
"""

from __future__ import annotations

MAX_SHOWN = 40
# where a token ends when the error names it: a space, a list bracket, a literal
_TOKEN_ENDS = frozenset(b" ()[]{")


def shown(raw: bytes | str) -> str:
    """``raw`` quoted for a response text: printable ASCII only, at most MAX_SHOWN characters."""
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    out = []
    for octet in data[:MAX_SHOWN]:
        if 0x20 <= octet < 0x7F:
            out.append(chr(octet))
        else:
            out.append(f"\\x{octet:02x}")
    more = "..." if len(data) > MAX_SHOWN else ""
    return f'"{"".join(out)}{more}"'


def token_at(line: bytes, pos: int) -> bytes:
    """The client's token starting at ``pos``: up to the next space or bracket.

    A token that starts with a bracket or quote is that one octet's worth of context
    plus what follows it, so ``)`` or ``"abc`` still names something.
    """
    end = pos + 1
    while end < len(line) and line[end] not in _TOKEN_ENDS:
        end += 1
    return line[pos:end]
