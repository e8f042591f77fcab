"""docs/EXTENSIONS.md lists exactly the capabilities the server announces, in every mode."""

from __future__ import annotations

import re
from pathlib import Path

from imapsession import greeting

DOC = Path(__file__).resolve().parent.parent / "docs" / "EXTENSIONS.md"


def _documented() -> set[str]:
    rows = re.findall(r"^\| `([^`]+)` \|", DOC.read_text(), re.M)
    assert rows, "no capability rows found in docs/EXTENSIONS.md"
    return set(rows)


def _name(capability: str) -> str:
    """``APPENDLIMIT=104857600`` is documented as ``APPENDLIMIT=``."""
    return capability.split("=", 1)[0] + "=" if capability.startswith("APPENDLIMIT=") else capability


def _announced() -> set[str]:
    """Every capability any mode's CAPABILITY line can carry."""
    caps = set(greeting.capabilities())
    for secure in (True, False):
        caps |= set(greeting.login_capabilities(secure))
    return {_name(cap) for cap in caps}


def test_every_announced_capability_is_documented():
    missing = _announced() - _documented()
    assert not missing, f"announced but not in docs/EXTENSIONS.md: {sorted(missing)}"


def test_every_documented_capability_is_announced():
    stale = _documented() - _announced()
    assert not stale, f"in docs/EXTENSIONS.md but never announced: {sorted(stale)}"


def test_the_session_announces_what_greeting_lists():
    """The session's CAPABILITY comes from greeting.capabilities (no second list elsewhere)."""
    from imapsession.session import Session

    session = Session(None, None)
    session.login_secure = True
    said = {_name(cap) for cap in session.capabilities()}
    assert said <= _announced()
    assert "AUTH=PLAIN" in said
