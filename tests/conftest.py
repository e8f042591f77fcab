"""Shared test setup: the repository on sys.path, and markers for what needs what."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
for path in (str(REPO), str(REPO / "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

DOVECOT_IMAP = "/usr/lib/dovecot/imap"


def pytest_collection_modifyitems(config, items):
    """Tests that drive Dovecot's imap are skipped, with the reason, where it is not installed."""
    if os.access(DOVECOT_IMAP, os.X_OK):
        return
    skip = pytest.mark.skip(reason=f"{DOVECOT_IMAP} is not installed (apt-get install dovecot-imapd)")
    for item in items:
        if "dovecot" in item.keywords or "dovecot" in item.name:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "dovecot: drives Dovecot's imap binary as the reference")
