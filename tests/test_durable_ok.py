"""Durable before OK (issue 14, finding 3): the index's WAL is fsynced before a tagged OK.

A kill -9 cannot show this (the page cache survives a killed process); a power
cut can, and in WAL mode with ``synchronous=NORMAL`` the last commits roll back
then, taking UIDs, flags and expunges the client was told about. So the server
runs under ``strace`` and, for each state-changing command, every write to the
``-wal`` file the command made must be followed by an fsync (or fdatasync) of
that file before the command's tagged OK is written to fd 1; on Maildir, where the
flags live in the file names, STORE's renames and EXPUNGE's unlinks are fsynced
too (the cur/ directory).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from crash_world import make_base, message, spawn_server

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")

_CALL = re.compile(r"^(?:\d+ +)?([a-z0-9_]+)\((\d+)?(.*)$")
COMMANDS = {  # tag -> the command; each must commit before its OK
    "st1": "UID STORE 2:3 +FLAGS (\\Flagged NewKw)",
    "ap1": "APPEND INBOX (\\Seen) {%d+}",
    "ex1": "EXPUNGE",
}


def _trace(home: Path, backend: str, out: Path) -> None:
    prefix = ("strace", "-f", "-qq", "-s", "4096", "-o", str(out),
              "-e", "trace=openat,close,fsync,fdatasync,write,pwrite64")
    body = message("durable", 40)
    with spawn_server(home, backend, prefix, timeout=60) as ours:
        assert b" OK " in ours.command("SELECT INBOX")[-1]
        for tag, command in COMMANDS.items():
            if tag == "ap1":
                wire = (f"{tag} " + command % len(body)).encode() + b"\r\n" + body + b"\r\n"
            else:
                wire = f"{tag} {command}\r\n".encode()
            ours.send_raw(wire)
            answer = ours.read_until_tagged(tag, timeout=60)
            assert answer[-1].startswith(f"{tag} OK".encode()), answer[-1]
        ours.logout()


def answers(lines: list[str]) -> dict[str, tuple[int, list[int], bool]]:
    """tag -> (WAL writes since the previous tagged answer, WAL fds written and not yet
    fsynced when that tag's answer was written to fd 1, whether a Maildir cur/ directory
    was fsynced since the previous answer)."""
    wal: set[int] = set()
    cur: set[int] = set()
    cur_synced = False
    dirty: set[int] = set()
    writes = 0
    found = {}
    for line in lines:
        match = _CALL.match(line)
        if match is None:
            continue
        name, fd_text, rest = match.groups()
        fd = int(fd_text) if fd_text else -1
        if name == "openat" and '-wal"' in rest:
            wal.add(int(rest.rsplit("=", 1)[1]))
        elif name == "openat" and '/cur"' in rest and "O_DIRECTORY" in rest:
            cur.add(int(rest.rsplit("=", 1)[1]))
        elif name == "close":
            cur.discard(fd)
        elif name == "close" and fd in wal:
            wal.discard(fd)
            dirty.discard(fd)
        elif name in ("write", "pwrite64") and fd in wal:
            dirty.add(fd)
            writes += 1
        elif name in ("fsync", "fdatasync"):
            dirty.discard(fd)
            cur_synced = cur_synced or fd in cur
        elif name == "write" and fd == 1:
            for tag in re.findall(r'(?:, "|\\n)([a-z0-9]+) (?:OK|NO|BAD) ', rest):
                found[tag] = (writes, sorted(dirty), cur_synced)
                writes, cur_synced = 0, False
    return found


@pytest.mark.parametrize("backend", ["maildir", "mbox"])
def test_wal_fsynced_before_tagged_ok(tmp_path, backend):
    home = tmp_path / "home"
    make_base(home, backend)
    out = tmp_path / "trace.txt"
    _trace(home, backend, out)
    found = answers(out.read_text(errors="replace").splitlines())
    for tag in COMMANDS:
        writes, dirty, cur_synced = found[tag]
        assert writes, f"{tag}: the command wrote nothing to the WAL (the trace misses it)"
        assert not dirty, f"{backend} {tag}: WAL written but not fsynced before its OK"
        if backend == "maildir" and tag in ("st1", "ex1"):
            # the flags live in the file names: the renames (unlinks) durable too
            assert cur_synced, f"{tag}: cur/ not fsynced before its OK"
