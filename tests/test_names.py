"""Mailbox names on disk: Maildir++ with modified UTF-7, escaped dots, hostile names refused."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imapsession.storage import names
from imapsession.storage.base import InvalidMailboxName


@pytest.mark.parametrize(
    ("name", "dirname"),
    [
        ("a", ".a"),
        ("a/b", ".a.b"),
        ("a.b", ".a&AC4-b"),
        ("a.b/c.", ".a&AC4-b.c&AC4-"),
        ("Ünï", ".&ANw-n&AO8-"),
        ("R&D", ".R&-D"),
        ("INBOX/sub", ".INBOX.sub"),
        ("日本語/x", ".&ZeVnLIqe-.x"),
    ],
)
def test_folder_dirname_matches_dovecot_spelling(name: str, dirname: str) -> None:
    assert names.folder_dirname(name) == dirname
    assert names.name_from_dirname(dirname) == name


def test_dovecot_non_ascii_dirname_decodes() -> None:
    # Dovecot created ".&ANw-n&AO8-" for CREATE &ANw-n&AO8- (checked with its imap binary).
    assert names.name_from_dirname(".&ANw-n&AO8-") == "Ünï"


@pytest.mark.parametrize("spelling", ["inbox", "Inbox", "INBOX", "iNbOx"])
def test_inbox_is_case_insensitive(spelling: str) -> None:
    assert names.normalize(spelling) == "INBOX"
    assert names.normalize(spelling + "/Sub") == "INBOX/Sub"
    assert names.folder_dirname(names.normalize(spelling + "/Sub")) == ".INBOX.Sub"


def test_inbox_prefix_is_not_inbox() -> None:
    assert names.normalize("inboxes") == "inboxes"
    assert names.normalize("x/inbox") == "x/inbox"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("/a", "begin with the hierarchy separator"),
        ("a//b", "empty hierarchy level"),
        ("a/", "empty hierarchy level"),
        (".", "'.' hierarchy level"),
        ("..", "'..' hierarchy level"),
        ("a/../b", "'..' hierarchy level"),
        ("a/./b", "'.' hierarchy level"),
        ("~root", "'~'"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\tb", "control character"),
        ("a\x7fb", "control character"),
        ("a\x85b", "control character"),
        ("a\ud800b", "not valid Unicode"),
        ("x" * 255, "too long"),
        ("ä" * 100, "too long"),
    ],
)
def test_hostile_names_are_refused_with_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidMailboxName) as caught:
        names.normalize(name)
    assert reason in caught.value.text
    assert caught.value.code == "CANNOT"


def test_longest_acceptable_name() -> None:
    assert names.normalize("x" * 254) == "x" * 254  # ".xxx" is exactly 255 octets


def test_path_too_long_for_messages(tmp_path) -> None:
    deep = tmp_path / ("d" * 200) / ("e" * 200)
    root = str(deep)
    for _ in range(18):
        root = os.path.join(root, "f" * 200)
    with pytest.raises(InvalidMailboxName, match="too long"):
        names.folder_path(root, "a" * 100)


def test_symlink_out_of_root_is_refused(tmp_path) -> None:
    root = tmp_path / "Maildir"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, root / ".evil")
    with pytest.raises(InvalidMailboxName, match="leave the mail root"):
        names.folder_path(str(root), "evil")
    assert names.folder_path(str(root), "fine") == str(root / ".fine")
    assert names.folder_path(str(root), "inbox") == str(root)


@pytest.mark.parametrize(
    "entry",
    [".", "..", "cur", ".a..b", "..x", ".a.", ".&AGE-", ".&Jjo", ".a&AC4", ".inbox.x", ".~x"],
)
def test_foreign_directory_entries_are_not_folders(entry: str) -> None:
    assert names.name_from_dirname(entry) is None


_component = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..") and not s.startswith("~"))


@given(st.lists(_component, min_size=1, max_size=4))
def test_every_creatable_name_round_trips(parts: list[str]) -> None:
    name = "/".join(parts)
    try:
        canonical = names.normalize(name)
    except InvalidMailboxName as exc:
        assert "too long" in exc.text or "control" in exc.text
        return
    if canonical == "INBOX":
        return
    dirname = names.folder_dirname(canonical)
    assert "/" not in dirname and dirname.isascii()
    assert dirname.count(".") == canonical.count("/") + 1  # dots only as separators
    assert names.name_from_dirname(dirname) == canonical


def test_distinct_names_get_distinct_directories() -> None:
    spellings = ["a.b", "a/b", "a&AC4-b", "a&b", "a&-b", "a..b".replace("..", ".-.")]
    dirs = {names.folder_dirname(n) for n in spellings}
    assert len(dirs) == len(spellings)
