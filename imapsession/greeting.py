"""The capability list and the greeting, in one place that imports nothing.

"""

from __future__ import annotations

DEFAULT_APPEND_LIMIT = 100 * 1024 * 1024


def capabilities(append_limit: int = DEFAULT_APPEND_LIMIT, extra: tuple[str, ...] = ()) -> list[str]:
    return ["IMAP4rev1", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT",
            "UIDPLUS", "MOVE", "CHILDREN", f"APPENDLIMIT={append_limit}", *extra]


def login_capabilities(secure: bool) -> tuple[str, ...]:
    """Added before login in login mode: plaintext mechanisms only on a secure transport."""
    return ("SASL-IR", "AUTH=PLAIN") if secure else ("SASL-IR", "LOGINDISABLED")


def greeting(preauth_user: str | None, caps: list[str], note: str = "") -> bytes:
    """``note``: said after the user name, e.g. that the demo's mailbox is thrown away."""
    text = " ".join(caps)
    if preauth_user is not None:
        said = f"{preauth_user} ({note})" if note else preauth_user
        return f"* PREAUTH [CAPABILITY {text}] Logged in as {said}\r\n".encode()
    return f"* OK [CAPABILITY {text}] imapsession ready.\r\n".encode()
