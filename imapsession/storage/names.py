"""Mailbox names: the one gate between client-chosen names and the file system.

Theory of operation
-------------------
Names crossing the storage interface are Unicode with ``/`` as the hierarchy
separator. On disk we use Maildir++ as Dovecot and Courier lay it out: INBOX is
the mail root itself, folder ``a/b`` lives in ``ROOT/.a.b/``. Each component is
written in modified UTF-7 (RFC 3501 5.1.3), which is how Dovecot stores names.

Maildir++ uses ``.`` as its own separator, so a ``.`` *inside* a component is
escaped as ``&AC4-`` (the modified UTF-7 spelling of U+002E). A canonical
encoder never produces it because printable ASCII is always written literally,
so it cannot collide with any other name; ``protocol.types.mutf7_decode``
refuses it for the same reason, which is why decoding here handles it first.
Dovecot itself cannot create names with ``.`` under Maildir++, so it never meets
this spelling in folders it made.

Refused (``InvalidMailboxName``, with the reason): empty names, a leading ``/``,
empty components (``a//b``, a trailing ``/``), components ``.`` and ``..``, a
``~`` at the start of the name (home-directory expansion in other tools), NUL,
C0/C1 control characters and DEL, unpaired surrogates, a folder directory name
over 255 octets, a path that could not hold a message file within PATH_MAX, and
anything whose resolved path leaves the mail root (e.g. a planted symlink).

``INBOX`` is case-insensitive as a whole first component: ``inbox`` is INBOX and
``inbox/sub`` is the ordinary folder ``INBOX/sub`` stored as ``.INBOX.sub``.
"""

from __future__ import annotations

import os
import re

from imapsession.storage.base import InvalidMailboxName
from imapsession.text.mutf7 import mutf7_decode, mutf7_encode

SEPARATOR = "/"
DOT_ESCAPE = "&AC4-"
NAME_MAX = 255  # octets in one directory entry on every common file system
PATH_MAX = 4096
# Room a message file needs below a folder: "/cur/" plus a Dovecot-style unique
# name with size fields and a full flag suffix.
_MESSAGE_PATH_ROOM = 5 + 160
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_TOKENS = re.compile(r"&[^-]*-|[^&]+|&")


def normalize(name: str) -> str:
    """The canonical spelling of a valid name (``INBOX`` upper-cased), or InvalidMailboxName."""
    if not isinstance(name, str) or name == "":
        raise InvalidMailboxName("Mailbox name is empty")
    if name.startswith(SEPARATOR):
        raise InvalidMailboxName("Mailbox name must not begin with the hierarchy separator")
    if name.startswith("~"):
        raise InvalidMailboxName("Mailbox name must not begin with '~'")
    if _CONTROL.search(name):
        raise InvalidMailboxName("Mailbox name contains a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMailboxName("Mailbox name is not valid Unicode") from None
    parts = name.split(SEPARATOR)
    for part in parts:
        if part == "":
            raise InvalidMailboxName("Mailbox name has an empty hierarchy level")
        if part in (".", ".."):
            raise InvalidMailboxName(f"Mailbox name has a '{part}' hierarchy level")
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    canonical = SEPARATOR.join(parts)
    if canonical != "INBOX":
        folder = folder_dirname(canonical)
        if len(folder.encode("ascii")) > NAME_MAX:
            raise InvalidMailboxName("Mailbox name is too long")
    return canonical


def is_inbox(name: str) -> bool:
    return name.upper() == "INBOX"


def encode_component(part: str) -> str:
    """One hierarchy level as it appears between the dots of a Maildir++ folder name."""
    return mutf7_encode(part).replace(".", DOT_ESCAPE)


def decode_component(text: str) -> str:
    """Inverse of ``encode_component``; ValueError for anything it would not produce."""
    out = []
    for token in _TOKENS.findall(text):
        if token == DOT_ESCAPE:
            out.append(".")
        elif token.startswith("&") and len(token) > 2:
            out.append(_decode_shifted(token[1:-1]))
        else:
            out.append(mutf7_decode(token))
    decoded = "".join(out)
    if encode_component(decoded) != text:
        raise ValueError(f"non-canonical folder name component {text!r}")
    return decoded


def _decode_shifted(chunk: str) -> str:
    """One ``&...-`` run; strictness comes from the re-encoding check in the caller."""
    import base64
    import binascii

    if not re.fullmatch(r"[A-Za-z0-9+,]+", chunk):
        raise ValueError("bad modified UTF-7")
    try:
        raw = base64.b64decode(chunk.replace(",", "/") + "=" * (-len(chunk) % 4), validate=True)
        return raw.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("bad modified UTF-7") from exc


def folder_dirname(name: str) -> str:
    """The directory entry under the root for a canonical non-INBOX name (``.a.b``)."""
    return "." + ".".join(encode_component(part) for part in name.split(SEPARATOR))


def name_from_dirname(entry: str) -> str | None:
    """The mailbox name a root directory entry stands for, or None if it is not a folder name."""
    if not entry.startswith(".") or entry in (".", ".."):
        return None
    try:
        parts = [decode_component(part) for part in entry[1:].split(".")]
        name = SEPARATOR.join(parts)
        if normalize(name) != name or folder_dirname(name) != entry:
            return None
    except (ValueError, InvalidMailboxName):
        return None
    return name


def folder_path(root: str, name: str) -> str:
    """The directory holding mailbox ``name`` (root for INBOX), checked to stay inside root."""
    canonical = normalize(name)
    if canonical == "INBOX":
        return root
    path = os.path.join(root, folder_dirname(canonical))
    if len(os.fsencode(path)) + _MESSAGE_PATH_ROOM > PATH_MAX:
        raise InvalidMailboxName("Mailbox name makes a path that is too long")
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.dirname(real) != real_root:
        raise InvalidMailboxName("Mailbox name would leave the mail root")
    return path
