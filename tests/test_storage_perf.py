"""The cost of a second SELECT of 10,000 messages in a fresh process (IMAPSESSION_PERF=1).

Run: ``IMAPSESSION_PERF=1 pytest -s tests/test_storage_perf.py``. It prints the
figures; the budget is about 15 ms for ``open_mailbox() + sync(0)``, with no
message file opened and no directory read.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imapsession.storage.maildir import open_maildir

pytestmark = pytest.mark.skipif(
    os.environ.get("IMAPSESSION_PERF") != "1",
    reason="benchmark: set IMAPSESSION_PERF=1 to generate a 10,000-message maildir and time it",
)

COUNT = 10_000
REPO = Path(__file__).resolve().parent.parent

_PROBE = r"""
import builtins, json, os, sys, time
import sqlite3, array, attrs
from imapsession.storage import maildir
root = sys.argv[1]
touched = []
real_open, real_os_open, real_listdir = builtins.open, os.open, os.listdir
def watch(path):
    text = os.fspath(path)
    if "/cur/" in text or "/new/" in text:
        touched.append(text)
builtins.open = lambda path, *a, **k: (watch(path), real_open(path, *a, **k))[1]
os.open = lambda path, *a, **k: (watch(path), real_os_open(path, *a, **k))[1]
def listdir(path="."):
    touched.append("listdir " + os.fspath(path))
    return real_listdir(path)
os.listdir = listdir
start = time.perf_counter()
store = maildir.open_maildir(root)
box = store.open_mailbox("INBOX", readonly=False)
state = box.sync(0)
opened = time.perf_counter()
again = box.sync(state.highest_modseq)
noop = time.perf_counter()
print(json.dumps({"open_sync": opened - start, "noop": noop - opened,
                  "messages": len(state.changed), "touched": touched,
                  "noop_changed": len(again.changed)}))
"""


def generate(root: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    text = b"From: a@example.org\nSubject: message\n\n" + b"x" * 2000 + b"\n"
    for i in range(COUNT):
        letters = "S" if i % 3 else "FS"
        name = f"{1600000000 + i}.M{i}P1.gen,S={len(text)},W={len(text) + 4}:2,{letters}"
        (root / "cur" / name).write_bytes(text)
    past = time.time() - 60
    for sub in ("cur", "new"):
        os.utime(root / sub, (past, past))


def probe(root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(root)], capture_output=True, env=env, check=True
    )
    return json.loads(done.stdout)


def test_second_select_of_10000_messages(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    generate(root)
    started = time.perf_counter()
    store = open_maildir(str(root))
    first = store.open_mailbox("INBOX", readonly=False).sync(0)
    first_time = time.perf_counter() - started
    store.close()
    assert len(first.changed) == COUNT
    runs = [probe(root) for _ in range(7)]
    for run in runs:
        assert run["messages"] == COUNT and run["noop_changed"] == 0
        assert run["touched"] == [], run["touched"][:5]
    times = [run["open_sync"] * 1000 for run in runs]
    noops = [run["noop"] * 1000 for run in runs]
    print(
        f"\nfirst open+scan+sync: {first_time * 1000:.1f} ms;"
        f" second open+sync(0) in a fresh process: median {statistics.median(times):.1f} ms"
        f" (min {min(times):.1f}, max {max(times):.1f});"
        f" NOOP sync median {statistics.median(noops):.3f} ms"
    )
    assert statistics.median(times) <= 15.0
