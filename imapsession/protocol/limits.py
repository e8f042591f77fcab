"""How much of a client's input one session holds or reads, and where it stops.

Why these numbers
-----------------
* ``max_line`` and ``max_literal`` (64 KiB) are Dovecot's ``imap_max_line_length``:
  a command and each of its in-memory literals; ``max_command`` (1 MiB) bounds all
  lines and in-memory literals of one command together.
* ``max_append`` is APPENDLIMIT (RFC 7889): an APPEND literal up to it streams to
  a spool file, never into memory.
* ``max_discard`` is how much of one refused command we read and drop to answer it
  with a tagged error and go on (RFC 7888 section 4 lets a server discard a
  non-synchronising literal it will not take). Default: ``DISCARD_FACTOR`` times
  APPENDLIMIT, so a client that misjudged the limit a few times over still gets a
  ``NO [TOOBIG]`` instead of a dropped connection. A refused command that needs
  more than this ends the session with ``* BYE`` at once: a declared
  ``{4294967295+}`` is not waited for. Discarding costs time, not memory.
* ``max_literals`` per command (1000): CVE-2024-34055 made a server keep state
  for every literal of a command; past the limit the rest of the command is
  discarded (within ``max_discard``) and answered ``BAD [LIMIT]``.

Before login (``pre_login``) the network faces an unauthenticated parser, so the
limits are Dovecot imap-login's (``IMAP_LOGIN_MAX_LINE_LENGTH`` 8 KiB): no
command there needs more than a user name, a password and an ID list.
"""

from __future__ import annotations

import attrs

DISCARD_FACTOR = 4
DEFAULT_APPEND_LIMIT = 100 * 1024 * 1024


def _discard_default(limits: Limits) -> int:
    return DISCARD_FACTOR * limits.max_append


@attrs.frozen
class Limits:
    """The session's input limits; see the module docstring for why each is what it is."""

    max_line: int = 64 * 1024
    max_literal: int = 64 * 1024
    max_append: int = DEFAULT_APPEND_LIMIT
    max_command: int = 1024 * 1024
    max_literals: int = 1000
    max_discard: int = attrs.field(
        default=attrs.Factory(_discard_default, takes_self=True))


def configured(append_limit: int | None = None, discard_limit: int | None = None) -> Limits:
    """The session's limits from the settings ``--append-limit``/``--discard-limit``.

    None or 0 keeps the default (the discard cap then follows the APPENDLIMIT).
    """
    limits = Limits(max_append=append_limit or DEFAULT_APPEND_LIMIT)
    return attrs.evolve(limits, max_discard=discard_limit) if discard_limit else limits


def pre_login(append_limit: int = DEFAULT_APPEND_LIMIT) -> Limits:
    """The pre-login child's limits (``append_limit`` is only advertised there)."""
    return Limits(max_line=8 * 1024, max_literal=8 * 1024, max_append=append_limit,
                  max_command=16 * 1024, max_literals=32, max_discard=64 * 1024)
