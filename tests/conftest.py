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


# --- transcripts run on every backend ------------------------------------------------

BACKENDS = ("maildir", "mbox")


def pytest_generate_tests(metafunc):
    """Every test in a test_transcript_* module runs once per storage backend."""
    if metafunc.module.__name__.startswith("test_transcript_"):
        metafunc.parametrize("mail_backend", BACKENDS, indirect=True)


# Transcripts that cannot hold on mbox for a reason of the format, not of our code.
_NO_INFERIORS = ("an mbox folder is a file, so a mailbox that holds mail cannot also have"
                 " children (Dovecot's \\NoInferiors; it refuses the same)")
MBOX_CANNOT = {
    "test_store_is_usable_by_a_second_store_object": "opens the directory with open_maildir",
    "test_create_and_list": "asserts the Maildir++ layout on disk (.Work/cur)",
    "test_planted_symlink_does_not_lead_outside": "plants a Maildir++ folder symlink (.Evil);"
    " test_mbox_store.py plants the mbox one",
    "test_internaldate_of_a_delivered_message_is_its_mtime": "a Maildir internal date is the"
    " file's mtime; in mbox it is the From line's date (test_mbox_store.py checks that)",
    "test_list_non_ascii_names_and_patterns": _NO_INFERIORS,
    "test_delete_with_children_leaves_a_noselect_parent": _NO_INFERIORS,
    "test_rename_moves_children": _NO_INFERIORS,
}


@pytest.fixture(autouse=True)
def mail_backend(request):
    """The backend ``transcript.Client`` opens for this test (maildir unless parametrised)."""
    backend = getattr(request, "param", "maildir")
    if backend == "mbox" and request.node.originalname in MBOX_CANNOT:
        pytest.skip(f"mbox: {MBOX_CANNOT[request.node.originalname]}")
    if backend == "maildir":
        yield backend
        return
    import transcript

    transcript.BACKEND = backend
    try:
        yield backend
    finally:
        transcript.BACKEND = "maildir"
