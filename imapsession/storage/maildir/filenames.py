"""Maildir file names: ``<base>:2,<letters>`` and Dovecot's size fields in the base.

A new file's base is a Dovecot-style unique name (``storage.spool.unique_base``)
followed by ``,S=<size on disk>,W=<size with CRLF line endings>``, so a size
never needs the file read.
"""

from __future__ import annotations


def split_name(filename: str) -> tuple[str, str]:
    """(base, letters) of a maildir file name; letters are empty without ``:2,``."""
    base, _, info = filename.partition(":")
    return base, info[2:] if info.startswith("2,") else ""


def vsize_from_base(base: str) -> int | None:
    """Dovecot's ``,W=<n>`` (size with CRLF line endings) when the name carries it."""
    for field in base.split(",")[1:]:
        if field.startswith("W=") and field[2:].isdigit():
            return int(field[2:])
    return None


def size_stem(size: int, vsize: int | None) -> str:
    return f",S={size}" + ("" if vsize is None else f",W={vsize}")
