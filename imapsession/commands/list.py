"""LIST, LSUB and NAMESPACE (RFC 3501 6.3.8, 6.3.9; RFC 2342; CHILDREN, RFC 3348)."""

from __future__ import annotations

import re

from imapsession.commands.context import HandlerSession
from imapsession.commands.mailbox_names import decode_mailbox_name
from imapsession.commands.results import Done, ok
from imapsession.protocol import serializer
from imapsession.protocol.command import Command
from imapsession.text.mutf7 import mutf7_encode


def pattern_regex(pattern: str, separator: str) -> re.Pattern[str]:
    """``*`` matches anything, ``%`` anything but the separator (RFC 3501 6.3.8)."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "%":
            out.append(f"[^{re.escape(separator)}]*")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _matches(regex: re.Pattern[str], name: str) -> bool:
    if regex.fullmatch(name):
        return True
    # INBOX is case-insensitive, also as the first component of a pattern
    if name == "INBOX" or name.startswith("INBOX/"):
        return bool(re.compile(regex.pattern, re.IGNORECASE | re.DOTALL).fullmatch(name))
    return False


def _wire_name(name: str) -> bytes:
    return serializer.astring(mutf7_encode(name))


def _sort_key(name: str) -> tuple[int, str]:
    return (0 if name == "INBOX" else 1, name)


def _full_pattern(session: HandlerSession, command: Command) -> str | None:
    reference, pattern = command.args
    if pattern == "":
        return None
    try:
        reference = decode_mailbox_name(reference) if reference else ""
        pattern = _decode_pattern(pattern)
    except Exception:  # noqa: BLE001 - an undecodable pattern simply matches nothing
        return "\x00"
    return reference + pattern


def _decode_pattern(pattern: str) -> str:
    # wildcards are plain ASCII, so each piece between them decodes on its own
    pieces = re.split(r"([*%])", pattern)
    return "".join(p if p in ("*", "%") else decode_mailbox_name(p) if p else "" for p in pieces)


def handle_list(session: HandlerSession, command: Command) -> Done:
    separator = session.store.hierarchy_separator
    full = _full_pattern(session, command)
    if full is None:  # LIST "" "": the hierarchy delimiter and root (RFC 3501 6.3.8)
        session.send(f'* LIST (\\Noselect) "{separator}" ""\r\n'.encode())
        return ok("List completed.")
    regex = pattern_regex(full, separator)
    mailboxes = sorted(session.store.list_mailboxes(), key=lambda m: _sort_key(m.name))
    for info in mailboxes:
        if not _matches(regex, info.name):
            continue
        flags = []
        if not info.selectable:
            flags.append("\\Noselect")
        flags.append("\\HasChildren" if info.has_children else "\\HasNoChildren")
        session.send(
            b"* LIST (" + " ".join(flags).encode() + f') "{separator}" '.encode()
            + _wire_name(info.name) + b"\r\n"
        )
    return ok("List completed.")


def handle_lsub(session: HandlerSession, command: Command) -> Done:
    separator = session.store.hierarchy_separator
    full = _full_pattern(session, command)
    if full is None:
        session.send(f'* LSUB (\\Noselect) "{separator}" ""\r\n'.encode())
        return ok("Lsub completed.")
    regex = pattern_regex(full, separator)
    subscribed = session.store.subscriptions()
    existing = {info.name: info for info in session.store.list_mailboxes()}
    shown: dict[str, bool] = {}
    for name in subscribed:
        if _matches(regex, name):
            info = existing.get(name)
            shown[name] = info is not None and info.selectable
            continue
        # RFC 3501 6.3.9: a % that stops at a parent of a subscribed name shows it \Noselect
        parts = name.split(separator)
        for depth in range(1, len(parts)):
            parent = separator.join(parts[:depth])
            if parent not in subscribed and _matches(regex, parent):
                shown.setdefault(parent, False)
    for name in sorted(shown, key=_sort_key):
        flags = "" if shown[name] else "\\Noselect"
        session.send(
            f'* LSUB ({flags}) "{separator}" '.encode() + _wire_name(name) + b"\r\n"
        )
    return ok("Lsub completed.")


def handle_namespace(session: HandlerSession, command: Command) -> Done:
    separator = session.store.hierarchy_separator
    session.send(f'* NAMESPACE (("" "{separator}")) NIL NIL\r\n'.encode())
    return ok("Namespace completed.")
