"""Many sessions starting at once on a mail root with no index yet: all of them
create or join the same index, none sets it aside as corrupt (a busy database is
not a corrupt one), and every APPEND lands. Found by the 8-process stress test."""

from __future__ import annotations

import glob
import multiprocessing
import os

from imapsession.storage.maildir import open_maildir

WORKERS = 8


def _worker(root: str, barrier, number: int, results) -> None:
    barrier.wait()
    try:
        store = open_maildir(root)
        store.append("INBOX", b"Subject: %d\r\n\r\nbody\r\n" % number, frozenset(), None)
        store.close()
        results.put(None)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc))


def test_simultaneous_first_opens_share_one_index(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        root = str(tmp_path / f"M{attempt}")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, sub))
        barrier = context.Barrier(WORKERS)
        results = context.Queue()
        workers = [context.Process(target=_worker, args=(root, barrier, n, results))
                   for n in range(WORKERS)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        assert outcomes == [None] * WORKERS, outcomes
        assert not glob.glob(os.path.join(root, "*corrupt*"))
        store = open_maildir(root)
        inbox = store.open_mailbox("INBOX", readonly=True)
        assert len(inbox.sync().changed) == WORKERS
        inbox.close()
        store.close()
