"""Message structure: parts with byte offsets, ENVELOPE, BODYSTRUCTURE, sections.

Every function takes the message in its CRLF wire form (``to_crlf``), so
offsets and sizes are the octets a client sees: ``bytes`` in memory, or a
``StoredMessage`` (``parse_stored``) for a large message read from its file.  Importing this package
does not import the ``email`` package (only ``date_header`` does, when called).
"""

from __future__ import annotations

from .binary import (
    BinaryDecodeError,
    UnknownCTE,
    binary,
    binary_chunks,
    binary_is_literal8,
    binary_plan,
    binary_size,
)
from .bodystructure import body_structure
from .crlf import to_crlf
from .decode import (
    all_decoded_headers,
    all_decoded_part_headers,
    date_header,
    decoded_addresses,
    decoded_body_texts,
    decoded_headers,
)
from .envelope import envelope, envelope_of_header
from .sections import header_fields, missing_section_value, section, section_range
from .stream import StoredMessage, parse_stored
from .structure import MAX_NESTED_PARTS, MAX_TOTAL_PARTS, Part, find_part, parse

__all__ = [
    "BinaryDecodeError",
    "all_decoded_part_headers",
    "MAX_NESTED_PARTS",
    "MAX_TOTAL_PARTS",
    "Part",
    "StoredMessage",
    "UnknownCTE",
    "all_decoded_headers",
    "binary",
    "binary_chunks",
    "binary_is_literal8",
    "binary_plan",
    "binary_size",
    "body_structure",
    "date_header",
    "decoded_addresses",
    "decoded_body_texts",
    "decoded_headers",
    "envelope",
    "envelope_of_header",
    "find_part",
    "header_fields",
    "missing_section_value",
    "parse",
    "parse_stored",
    "section",
    "section_range",
    "to_crlf",
]
