"""Message structure: parts with byte offsets, ENVELOPE, BODYSTRUCTURE, sections.

Every function takes the message in its CRLF wire form (``to_crlf``), so
offsets and sizes are the octets a client sees.  Nothing here imports the
``email`` package at import time.
"""

from __future__ import annotations

from .bodystructure import body_structure
from .crlf import to_crlf
from .envelope import envelope
from .structure import MAX_NESTED_PARTS, MAX_TOTAL_PARTS, Part, find_part, parse

__all__ = [
    "MAX_NESTED_PARTS",
    "MAX_TOTAL_PARTS",
    "Part",
    "body_structure",
    "envelope",
    "find_part",
    "parse",
    "to_crlf",
]
