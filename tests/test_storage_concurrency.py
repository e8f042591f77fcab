"""Eight processes on one mailbox: files and index must agree, no message lost or doubled."""

from __future__ import annotations

import multiprocessing
import os
import random
import sqlite3
import time
from pathlib import Path

from imapsession.storage.base import MessageGone
from imapsession.storage.maildir import Keywords, open_maildir, split_name

WORKERS = 8
SECONDS = 8.0
KEYWORDS = [f"k{i}" for i in range(6)]
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]


def body(token: str) -> bytes:
    return f"Subject: {token}\nX-Token: {token}\n\n{token}\n".encode()


def token_of(data: bytes) -> str:
    return data.split(b"X-Token: ", 1)[1].split(b"\n", 1)[0].decode()


def worker(root: str, seed: int, deadline: float, results) -> None:
    rng = random.Random(seed)
    store = open_maildir(root)
    box = store.open_mailbox("INBOX", readonly=False)
    state = box.sync()
    uids = {r.uid for r in state.changed}
    appended, expunged, moved, copied, reads, errors = [], [], [], 0, 0, []
    counter = 0
    while time.time() < deadline:
        op = rng.choice(["append", "append", "store", "copy", "expunge", "move", "read", "sync"])
        try:
            if op == "append":
                counter += 1
                token = f"w{seed}-{counter}"
                flags = frozenset(rng.sample(SYSTEM + KEYWORDS, rng.randint(0, 3)))
                store.append("INBOX", body(token), flags, None)
                appended.append(token)
            elif op == "sync" or not uids:
                state = box.sync(state.highest_modseq)
                uids |= {r.uid for r in state.changed}
                uids -= set(state.expunged)
            elif op == "store":
                chosen = rng.sample(sorted(uids), min(len(uids), 3))
                flags = frozenset(rng.sample(SYSTEM + KEYWORDS, rng.randint(1, 3)))
                box.store_flags(chosen, rng.choice(["add", "remove", "set"]), flags)
            elif op == "copy":
                result = box.copy_to(rng.sample(sorted(uids), min(len(uids), 2)), "Other")
                copied += len(result.target_uids)
            elif op in ("expunge", "move"):
                uid = rng.choice(sorted(uids))
                token = token_of(box.read_message(uid))
                if op == "move":
                    if uid in box.move_to([uid], "Other").source_uids:
                        moved.append(token)
                else:
                    box.store_flags([uid], "add", frozenset({"\\Deleted"}))
                    if uid in box.expunge([uid]):
                        expunged.append(token)
                uids.discard(uid)
            elif op == "read":
                uid = rng.choice(sorted(uids))
                data = box.read_message(uid)
                if token_of(data) not in data.split(b"\n", 1)[0].decode():
                    errors.append(f"bad content for uid {uid}: {data[:40]!r}")
                box.meta(uid)
                reads += 1
        except MessageGone:
            uids = uids  # another process removed it: a legal outcome
        except Exception as exc:  # reported to the parent, which fails the test
            errors.append(f"{op}: {type(exc).__name__}: {exc}")
    box.close()
    store.close()
    results.put((appended, expunged, moved, copied, reads, errors))


def index_files(root: Path, name: str) -> dict[str, str]:
    """filename -> flags text, straight from the index rows."""
    db = sqlite3.connect(root / "imapsession.index.sqlite")
    try:
        rows = db.execute(
            "SELECT filename, flags FROM message JOIN mailbox ON mailbox.id = mailbox_id"
            " WHERE mailbox.name = ?",
            (name,),
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


def disk_files(folder: Path) -> list[str]:
    return [f"{sub}/{n}" for sub in ("new", "cur") for n in os.listdir(folder / sub)]


def test_eight_processes_keep_files_and_index_in_agreement(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    setup = open_maildir(str(root))
    setup.create_mailbox("Other")
    for i in range(20):
        setup.append("INBOX", body(f"seed-{i}"), frozenset({"\\Seen"}), None)
    setup.close()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    deadline = time.time() + SECONDS
    procs = [
        ctx.Process(target=worker, args=(str(root), seed, deadline, results))
        for seed in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=SECONDS + 30) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
        assert proc.exitcode == 0

    errors = [e for o in outcomes for e in o[5]]
    assert errors == []
    appended = {f"seed-{i}" for i in range(20)} | {t for o in outcomes for t in o[0]}
    expunged = [t for o in outcomes for t in o[1]]
    moved = [t for o in outcomes for t in o[2]]
    copied = sum(o[3] for o in outcomes)
    assert len(expunged) == len(set(expunged)) and len(moved) == len(set(moved))
    assert sum(len(o[0]) for o in outcomes) > 50 and expunged and moved and copied
    print(  # visible with -s: how much work the run did
        f"appended {len(appended)}, expunged {len(expunged)}, moved {len(moved)},"
        f" copied {copied}, reads {sum(o[4] for o in outcomes)}"
    )

    # Files and index rows agree exactly (before any sync could repair anything).
    for name, folder in (("INBOX", root), ("Other", root / ".Other")):
        rows = index_files(root, name)
        assert sorted(rows) == sorted(disk_files(folder)), name
        keywords = Keywords(str(folder))
        keywords.load()
        for filename, flag_text in rows.items():
            letters = split_name(filename.split("/", 1)[1])[1]
            assert " ".join(sorted(keywords.flags(letters))) == flag_text, filename

    inbox_tokens = [token_of((root / f).read_bytes()) for f in disk_files(root)]
    assert len(inbox_tokens) == len(set(inbox_tokens)), "a message was duplicated"
    assert set(inbox_tokens) == appended - set(expunged) - set(moved), "a message was lost"
    other = root / ".Other"
    other_tokens = [token_of((other / f).read_bytes()) for f in disk_files(other)]
    assert len(other_tokens) == copied + len(moved)
    assert set(moved) <= set(other_tokens) and set(other_tokens) <= appended

    # A fresh session sees the same, and UIDs are unique and below UIDNEXT.
    store = open_maildir(str(root))
    state = store.open_mailbox("INBOX", readonly=True).sync()
    uids = [r.uid for r in state.changed]
    assert len(uids) == len(inbox_tokens) == len(set(uids))
    assert max(uids) < state.uidnext
    store.close()
