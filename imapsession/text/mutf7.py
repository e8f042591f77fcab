"""Modified UTF-7 (RFC 3501 section 5.1.3): mailbox names on the wire, and in Maildir++
folder names on disk as Dovecot writes them."""

from __future__ import annotations

import base64
import re


def mutf7_encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def mutf7_decode(text: str) -> str:
    """Decode, refusing anything that is not the canonical encoding of some name."""
    out: list[str] = []
    i = 0
    last_run_end = -1  # where the last encoded run ended: two runs may not touch
    while i < len(text):
        char = text[i]
        if not 0x20 <= ord(char) <= 0x7E:
            raise ValueError("8-bit or control character in mailbox name")
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated &-sequence in mailbox name")
        chunk = text[i + 1 : end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        if not re.fullmatch(r"[A-Za-z0-9+,]+", chunk):
            raise ValueError("bad modified UTF-7 in mailbox name")
        padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
        try:
            decoded = base64.b64decode(padded, validate=True).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            raise ValueError("bad modified UTF-7 in mailbox name") from None
        if any(0x20 <= ord(c) <= 0x7E for c in decoded):
            raise ValueError("printable ASCII must not be encoded in a mailbox name")
        # one name, one spelling: refuse anything a canonical encoder would not write
        # (split runs like &Jjo-&Jjo-, or stray bits in the last base64 character)
        start = i - len(chunk) - 2
        if mutf7_encode(decoded) != "&" + chunk + "-" or start == last_run_end:
            raise ValueError("non-canonical modified UTF-7 in mailbox name")
        last_run_end = i
        out.append(decoded)
    return "".join(out)
