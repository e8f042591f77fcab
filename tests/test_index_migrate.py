"""The index migrates in place: an index the schema-1 release wrote opens with
today's code keeping every record, the release keeps working on the migrated
index beside today's code, an index too new is refused and left alone, a failed
migration rolls back, and many processes opening an old index migrate it once.

The fixture (``tests/fixtures/index_schema1/``) was written by the release at
commit 3536d54; ``tests/fixtures/make_index_schema1.py`` says how. Its
``expected.json`` is what that release reported about its own index.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imapsession.session import Session
from imapsession.storage import open_maildir
from imapsession.storage.base import StorageError
from imapsession.storage.index import (
    SCHEMA_VERSION,
    Index,
    IndexMigrationFailed,
    IndexTooNew,
)
from imapsession.storage.index_schema import MIGRATIONS, Migration, check_order, sql

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "index_schema1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
RELEASE_INDEX = FIXTURES / "release1_index.py"
RELEASE_COMMIT = EXPECTED["commit"]
INDEX_NAME = "imapsession.index.sqlite"
REPO = Path(__file__).resolve().parent.parent


# --- the fixture, copied as if it had never moved ------------------------------------


def install_fixture(where: Path) -> Path:
    """A copy of the schema-1 maildir and its index at ``where``; returns the maildir.

    Git keeps neither empty directories nor mtimes, and a copy has new inodes;
    the index knows each folder by the inode of its ``cur/`` (a folder recreated
    under the same name is another folder) and trusts a folder unchanged while
    ``cur/`` and ``new/`` keep their mtimes. So the copy gets its empty
    directories back, every mtime the release left, and the index (raw SQL,
    still schema 1) the copy's inodes. Nothing else in the index is touched.
    """
    root = where / "Maildir"
    shutil.copytree(FIXTURE / "Maildir", root)
    for folder in (root, root / ".Work"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(exist_ok=True)
    db = sqlite3.connect(root / INDEX_NAME)
    for name, folder in (("INBOX", root), ("Work", root / ".Work")):
        db.execute("UPDATE mailbox SET dir_ino = ? WHERE name = ?",
                   ((folder / "cur").stat().st_ino, name))
    db.commit()
    db.close()
    for relative, mtime_ns in sorted(EXPECTED["mtimes"].items(), key=lambda i: -len(i[0])):
        os.utime(root / relative, ns=(mtime_ns, mtime_ns))
    return root


def meta(root: Path) -> dict[str, str]:
    db = sqlite3.connect(root / INDEX_NAME)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def query(root: Path, sql_text: str) -> list[tuple]:
    db = sqlite3.connect(root / INDEX_NAME)
    try:
        return db.execute(sql_text).fetchall()
    finally:
        db.close()


def assert_nothing_set_aside(root: Path) -> None:
    assert not glob.glob(str(root / "*corrupt*"))


def assert_records_as_release_left_them(store) -> None:
    """UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, UIDs, flags, modseqs, tombstones: as written."""
    for name, want in EXPECTED["mailboxes"].items():
        box = store.open_mailbox(name, readonly=True)
        got = box.sync(0)
        assert (got.uidvalidity, got.uidnext, got.highest_modseq) == (
            want["uidvalidity"], want["uidnext"], want["highest_modseq"])
        assert [{"uid": r.uid, "flags": sorted(r.flags), "modseq": r.modseq}
                for r in got.changed] == want["messages"]
        assert sorted(got.keywords) == sorted(want["keywords"])
        status = store.status(name)
        assert (status.uidvalidity, status.uidnext, status.highest_modseq) == (
            want["uidvalidity"], want["uidnext"], want["highest_modseq"])
        for uid, modseq in want["tombstones"]:
            assert uid in box.sync(modseq - 1).expunged
            assert uid not in box.sync(modseq).expunged
        box.close()


# --- the fixture itself --------------------------------------------------------------


def test_the_fixture_is_a_schema_1_index():
    """Guard against remaking it with the wrong code: no trace of any migration."""
    db = sqlite3.connect(f"file:{FIXTURE / 'Maildir' / INDEX_NAME}?mode=ro", uri=True)
    try:
        keys = dict(db.execute("SELECT key, value FROM meta"))
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert keys["schema"] == "1" and "schema_version" not in keys
    assert "migration" not in tables
    assert EXPECTED["schema"] == "1"
    assert (FIXTURE / "Maildir" / INDEX_NAME).stat().st_size < 100_000
    inbox = EXPECTED["mailboxes"]["INBOX"]
    assert inbox["tombstones"] and inbox["cache_rows"] and inbox["snapshot_rows"]


def test_the_release_copy_is_the_released_file():
    """``release1_index.py`` is that commit's index.py byte for byte (checked where git
    history is there; a shallow clone skips, the committed copy is what runs)."""
    try:
        shown = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{RELEASE_COMMIT}:imapsession/storage/index.py"],
            capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("git is not available")
    if shown.returncode != 0:
        pytest.skip(f"commit {RELEASE_COMMIT} is not in this clone")
    assert shown.stdout == RELEASE_INDEX.read_bytes()


# --- today's code opens it -----------------------------------------------------------


@pytest.mark.parametrize("scan", ["as-left", "rescanned"])
def test_schema_1_index_migrates_keeping_every_record(tmp_path: Path, scan: str):
    root = install_fixture(tmp_path)
    if scan == "rescanned":  # the folders look changed: a full scan must keep it all too
        db = sqlite3.connect(root / INDEX_NAME)
        db.execute("UPDATE mailbox SET cur_mtime = 0, new_mtime = 0")
        db.commit()
        db.close()
    before = query(root, "SELECT * FROM message_cache ORDER BY 1, 2, 3")
    snapshots = query(root, "SELECT * FROM snapshot ORDER BY 1")
    store = open_maildir(str(root))
    assert_records_as_release_left_them(store)
    inbox = store.open_mailbox("INBOX", readonly=True)
    envelope = inbox.cached(1, "ENVELOPE")
    assert envelope is not None and b"first" in envelope
    inbox.close()
    assert store.index.fresh is False
    store.close()
    assert_nothing_set_aside(root)
    keys = meta(root)
    assert (keys["schema"], keys["schema_version"]) == ("1", str(SCHEMA_VERSION))
    assert keys["dovecot_import"] == "1"  # the first open's verdict is kept, not re-taken
    log = query(root, "SELECT version, program FROM migration")
    assert log == [(2, "imapsession 0.1.0")]  # version 1 predates the log
    assert query(root, "SELECT * FROM message_cache ORDER BY 1, 2, 3") == before
    if scan == "as-left":
        assert query(root, "SELECT * FROM snapshot ORDER BY 1") == snapshots
    assert query(root, "PRAGMA integrity_check") == [("ok",)]


def test_schema_1_index_through_a_session(tmp_path: Path):
    """SELECT, UID FETCH and STATUS answer what the release's index holds."""
    root = install_fixture(tmp_path)
    store = open_maildir(str(root))
    session = Session(store, "fixture")
    session.greeting()
    out = session.receive(b"a SELECT INBOX\r\nb UID FETCH 1:* (UID FLAGS)\r\n"
                          b"c STATUS Work (UIDVALIDITY UIDNEXT MESSAGES)\r\n").decode()
    session.leave_selected()
    store.close()
    assert "Traceback" not in out and "SERVERBUG" not in out, out
    inbox, work = EXPECTED["mailboxes"]["INBOX"], EXPECTED["mailboxes"]["Work"]
    assert f"* OK [UIDVALIDITY {inbox['uidvalidity']}]" in out
    assert f"* OK [UIDNEXT {inbox['uidnext']}]" in out
    assert f"* {len(inbox['messages'])} EXISTS" in out
    fetched = {int(uid): sorted(flags.split()) for uid, flags in
               re.findall(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)", out)}
    assert fetched == {m["uid"]: sorted(m["flags"]) for m in inbox["messages"]}
    assert (f"* STATUS Work (UIDVALIDITY {work['uidvalidity']} UIDNEXT {work['uidnext']}"
            " MESSAGES 2)") in out  # (HIGHESTMODSEQ needs CONDSTORE: checked through storage)
    assert_nothing_set_aside(root)


# --- the release beside today's code -------------------------------------------------

# Today's backends on the release's index.py: exactly what the running schema-1
# release does with the index (the backends' SQL has not changed since).
_RELEASE_SESSION = textwrap.dedent("""
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location("imapsession.storage.index", sys.argv[1])
    release = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = release
    spec.loader.exec_module(release)
    assert release.SCHEMA_VERSION == 1
    from imapsession.storage import open_maildir
    store = open_maildir(sys.argv[2])
    uid = store.append("INBOX", b"Subject: from release 1\\r\\n\\r\\nhi\\r\\n",
                       frozenset({"\\\\Seen", "release-one"}), None).uid
    box = store.open_mailbox("INBOX", readonly=False)
    seen = box.sync(0)
    box.store_flags([1], "add", frozenset({"\\\\Flagged"}))
    box.close()
    print(json.dumps({"uid": uid, "uidvalidity": seen.uidvalidity,
                      "uids": [r.uid for r in seen.changed]}))
    store.close()
""")


def run_release(root: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _RELEASE_SESSION, str(RELEASE_INDEX), str(root)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_release_keeps_working_on_a_migrated_index(tmp_path: Path):
    root = install_fixture(tmp_path)
    store = open_maildir(str(root))
    store.status("INBOX")  # today's code migrates it
    store.close()
    inbox = EXPECTED["mailboxes"]["INBOX"]
    seen = run_release(root)
    assert seen["uidvalidity"] == inbox["uidvalidity"]
    assert seen["uids"] == [m["uid"] for m in inbox["messages"]] + [inbox["uidnext"]]
    assert seen["uid"] == inbox["uidnext"]
    assert_nothing_set_aside(root)
    # ... and today's code sees what the release wrote, on the same index
    store = open_maildir(str(root))
    box = store.open_mailbox("INBOX", readonly=True)
    got = box.sync(0)
    box.close()
    store.close()
    assert got.uidvalidity == inbox["uidvalidity"]
    records = {r.uid: r for r in got.changed}
    assert records[seen["uid"]].flags == {"\\Seen", "release-one"}
    assert "\\Flagged" in records[1].flags and records[1].modseq > inbox["highest_modseq"]
    keys = meta(root)
    assert (keys["schema"], keys["schema_version"]) == ("1", str(SCHEMA_VERSION))
    assert query(root, "SELECT version FROM migration") == [(2,)]
    assert query(root, "PRAGMA integrity_check") == [("ok",)]
    assert_nothing_set_aside(root)


def test_the_release_opens_an_unmigrated_index_then_today_migrates_it(tmp_path: Path):
    root = install_fixture(tmp_path)
    run_release(root)
    assert "schema_version" not in meta(root)
    store = open_maildir(str(root))
    assert store.status("INBOX").uidvalidity == EXPECTED["mailboxes"]["INBOX"]["uidvalidity"]
    store.close()
    assert meta(root)["schema_version"] == str(SCHEMA_VERSION)
    assert_nothing_set_aside(root)


# --- too new, newer but compatible, broken -------------------------------------------


def _set_versions(root: Path, compat: str, applied: str) -> None:
    db = sqlite3.connect(root / INDEX_NAME)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (compat,))
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
               (applied,))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _digest(root: Path) -> str:
    return hashlib.sha256((root / INDEX_NAME).read_bytes()).hexdigest()


def test_an_index_too_new_is_refused_and_left_alone(tmp_path: Path, caplog):
    root = install_fixture(tmp_path)
    Index(str(root / INDEX_NAME)).close()
    _set_versions(root, "99", "99")
    digest = _digest(root)
    path = str(root / INDEX_NAME)
    with caplog.at_level(logging.ERROR, logger="imapsession"), \
            pytest.raises(IndexTooNew) as refused:
        Index(path)
    text = str(refused.value)
    assert "99" in text and f"schema {SCHEMA_VERSION}" in text and path in text
    assert isinstance(refused.value, StorageError) and refused.value.code == "UNAVAILABLE"
    assert any(path in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert _digest(root) == digest
    assert_nothing_set_aside(root)
    assert meta(root)["schema"] == "99"


def test_a_session_on_an_index_too_new_answers_no_and_keeps_it(tmp_path: Path):
    root = install_fixture(tmp_path)
    Index(str(root / INDEX_NAME)).close()
    _set_versions(root, "99", "99")
    digest = _digest(root)
    store = open_maildir(str(root))
    session = Session(store, "fixture")
    session.greeting()
    out = session.receive(b"a SELECT INBOX\r\nb STATUS INBOX (MESSAGES)\r\nc NOOP\r\n")
    session.leave_selected()
    store.close()
    assert b"Traceback" not in out and b"SERVERBUG" not in out, out
    assert re.search(rb"^a NO \[UNAVAILABLE\] index \S+ needs schema 99 ", out, re.M), out
    assert re.search(rb"^b NO \[UNAVAILABLE\] ", out, re.M), out
    assert b"c OK" in out
    assert _digest(root) == digest
    assert_nothing_set_aside(root)


def test_the_server_on_an_index_too_new_says_why_and_logs_it(tmp_path: Path):
    """End to end through the binary: a tagged NO naming the reason, a log line, no
    traceback, the index untouched (the greeting still comes first: the index is
    opened by the first command that needs it)."""
    from imapproc import spawn_ours

    root = install_fixture(tmp_path)
    Index(str(root / INDEX_NAME)).close()
    _set_versions(root, "99", "99")
    digest = _digest(root)
    log_file = tmp_path / "server.log"
    with spawn_ours(str(root), ["--log", str(log_file)], copy=False) as proc:
        assert proc.greeting.startswith(b"* PREAUTH")
        answer = proc.command("SELECT INBOX")
        proc.logout()
    assert b" NO [UNAVAILABLE] index " in answer[-1] and b"needs schema 99" in answer[-1]
    assert "needs schema 99" in log_file.read_text()
    assert "Traceback" not in log_file.read_text()
    assert _digest(root) == digest
    assert_nothing_set_aside(root)


def test_an_index_newer_but_compatible_is_used_as_it_is(tmp_path: Path):
    root = install_fixture(tmp_path)
    Index(str(root / INDEX_NAME)).close()
    _set_versions(root, "1", "7")
    store = open_maildir(str(root))
    assert_records_as_release_left_them(store)
    store.close()
    assert (meta(root)["schema"], meta(root)["schema_version"]) == ("1", "7")  # not lowered
    assert_nothing_set_aside(root)


def test_garbage_versions_are_corrupt_and_set_aside(tmp_path: Path):
    """The one case that still starts over: the file is not an index we can read."""
    root = install_fixture(tmp_path)
    _set_versions(root, "one", "two")
    index = Index(str(root / INDEX_NAME))
    assert index.fresh and index.get_meta("schema_version") == str(SCHEMA_VERSION)
    index.close()
    assert glob.glob(str(root / "*corrupt*"))


# --- the machinery with test-only migrations -----------------------------------------


def _failing(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE message ADD COLUMN doomed INTEGER")
    raise RuntimeError("planted failure")


FAILING = (*MIGRATIONS, Migration(3, "planted failure", _failing))
ADD_COLUMN = (*MIGRATIONS, Migration(
    3, "message save date", sql("ALTER TABLE message ADD COLUMN save_date INTEGER")))
BREAKING = (*ADD_COLUMN, Migration(4, "flags moved", sql("CREATE TABLE flags2 (x)"), compat=4))


def _columns(root: Path, table: str) -> list[str]:
    return [row[1] for row in query(root, f"PRAGMA table_info({table})")]


def test_a_failing_migration_rolls_back_and_leaves_the_index_as_it_was(tmp_path: Path, caplog):
    root = install_fixture(tmp_path)
    before = query(root, "SELECT * FROM message ORDER BY 1, 2")
    with caplog.at_level(logging.ERROR, logger="imapsession"), \
            pytest.raises(IndexMigrationFailed) as failed:
        Index(str(root / INDEX_NAME), migrations=FAILING)
    assert "migration 3 (planted failure)" in str(failed.value)
    assert "stays at schema 1" in str(failed.value)
    assert any("planted failure" in r.getMessage() for r in caplog.records)
    keys = meta(root)
    assert keys["schema"] == "1" and "schema_version" not in keys  # migration 2 undone too
    assert "doomed" not in _columns(root, "message")
    assert not query(root, "SELECT name FROM sqlite_master WHERE name = 'migration'")
    assert query(root, "SELECT * FROM message ORDER BY 1, 2") == before
    assert_nothing_set_aside(root)
    store = open_maildir(str(root))  # the real code still migrates it afterwards
    assert_records_as_release_left_them(store)
    store.close()


def test_a_column_added_later_then_a_breaking_change(tmp_path: Path):
    root = install_fixture(tmp_path)
    Index(str(root / INDEX_NAME), migrations=ADD_COLUMN).close()
    assert "save_date" in _columns(root, "message")
    assert (meta(root)["schema"], meta(root)["schema_version"]) == ("1", "3")
    assert [v for (v,) in query(root, "SELECT version FROM migration ORDER BY 1")] == [2, 3]
    store = open_maildir(str(root))  # today's code (2) on a compatible index at 3
    assert_records_as_release_left_them(store)
    store.close()
    Index(str(root / INDEX_NAME), migrations=BREAKING).close()
    assert (meta(root)["schema"], meta(root)["schema_version"]) == ("4", "4")
    with pytest.raises(IndexTooNew, match="needs schema 4"):
        Index(str(root / INDEX_NAME), migrations=ADD_COLUMN)
    store = open_maildir(str(root))
    with pytest.raises(IndexTooNew):
        store.status("INBOX")
    store.close()
    assert_nothing_set_aside(root)


def test_a_new_index_is_made_by_version_1_plus_every_migration(tmp_path: Path):
    index = Index(str(tmp_path / INDEX_NAME), migrations=ADD_COLUMN)
    assert index.fresh
    assert (index.get_meta("schema"), index.get_meta("schema_version")) == ("1", "3")
    versions = [v for (v,) in index.db.execute("SELECT version FROM migration ORDER BY 1")]
    assert versions == [1, 2, 3]
    index.close()
    again = Index(str(tmp_path / INDEX_NAME), migrations=ADD_COLUMN)
    assert not again.fresh
    again.close()


def test_migrations_must_be_numbered_in_order():
    assert check_order(MIGRATIONS) == SCHEMA_VERSION == 2
    skip = Migration(4, "gap", sql("SELECT 1"))
    with pytest.raises(ValueError, match="out of order"):
        check_order((*MIGRATIONS, skip))
    with pytest.raises(ValueError, match="migration log"):
        check_order((Migration(2, "not the log", sql("SELECT 1")),))


# --- many processes open the old index at once ---------------------------------------

WORKERS = 6


def _count_runs(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS runs (pid INTEGER)")
    db.execute("INSERT INTO runs (pid) VALUES (?)", (os.getpid(),))


COUNTED = (*MIGRATIONS, Migration(3, "count the runs", _count_runs))


def _open_worker(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        index = Index(path, migrations=COUNTED)
        uidvalidity = index.db.execute(
            "SELECT uidvalidity FROM mailbox WHERE name = 'INBOX'").fetchone()[0]
        index.close()
        results.put(uidvalidity)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc))


def test_processes_opening_an_old_index_at_once_migrate_it_once(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        root = install_fixture(tmp_path / str(attempt))
        barrier = context.Barrier(WORKERS)
        results = context.Queue()
        workers = [context.Process(target=_open_worker,
                                   args=(str(root / INDEX_NAME), barrier, results))
                   for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        uidvalidity = EXPECTED["mailboxes"]["INBOX"]["uidvalidity"]
        assert outcomes == [uidvalidity] * WORKERS, outcomes
        assert len(query(root, "SELECT pid FROM runs")) == 1
        assert [v for (v,) in query(root, "SELECT version FROM migration ORDER BY 1")] == [2, 3]
        assert query(root, "PRAGMA integrity_check") == [("ok",)]
        assert_nothing_set_aside(root)
