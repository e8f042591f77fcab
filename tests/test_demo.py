"""The demo maildir: well-formed Maildir++, varied mail, readable by Dovecot and by us."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

import imapproc
from imapsession.demo import build_demo_maildir

NAME = re.compile(r"^(\d+)\.M(\d+)P(\d+)\.demo,S=(\d+)(?::2,([A-Z]*))?$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "Maildir"
    build_demo_maildir(str(path))
    return path


def messages(folder: Path) -> list[Path]:
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).iterdir())


def decoded(value: str) -> str:
    return str(make_header(decode_header(value)))


def test_layout_is_maildir_plus_plus(demo):
    for folder in (demo, demo / ".Work", demo / ".Lists"):
        for sub in ("cur", "new", "tmp"):
            assert (folder / sub).is_dir()
    assert (demo / ".Work" / "maildirfolder").read_bytes() == b""
    assert (demo / ".Lists" / "maildirfolder").read_bytes() == b""
    assert not (demo / "maildirfolder").exists()
    counts = [len(messages(f)) for f in (demo, demo / ".Work", demo / ".Lists")]
    assert all(c >= 5 for c in counts) and sum(counts) >= 24


def test_file_names_sizes_flags_and_mtimes(demo):
    seen_flags = set()
    for folder in (demo, demo / ".Work", demo / ".Lists"):
        for path in messages(folder):
            match = NAME.match(path.name)
            assert match, path.name
            stamp, _usec, _pid, size, flags = match.groups()
            data = path.read_bytes()
            assert int(size) == len(data)  # Dovecot trusts S= as the file size
            assert (flags is None) == (path.parent.name == "new")
            if flags:
                assert list(flags) == sorted(flags) and set(flags) <= set("DFRST")
            seen_flags.add(flags)
            date = parsedate_to_datetime(email.message_from_bytes(data)["Date"])
            assert int(path.stat().st_mtime) == int(date.timestamp()) == int(stamp)
    assert {"S", "FS", "", None} <= seen_flags


def test_dates_spread_over_months(demo):
    months = {int(NAME.match(p.name).group(1)) // (30 * 86400) for p in messages(demo)}
    assert len(months) >= 3


def test_content_variety(demo):
    parsed = [email.message_from_bytes(p.read_bytes()) for p in messages(demo)]
    types = {part.get_content_type() for msg in parsed for part in msg.walk()}
    assert {"text/plain", "text/html", "multipart/alternative", "multipart/mixed",
            "image/png", "application/pdf", "message/rfc822"} <= types
    subjects = {decoded(msg["Subject"]) for msg in parsed}
    assert "Grüße aus München" in subjects
    assert "会議の議事録について" in subjects
    assert any("🎉" in s for s in subjects)
    raw_subjects = [msg["Subject"] for msg in parsed]
    assert all(s.isascii() for s in raw_subjects)  # RFC 2047, never raw 8-bit
    png = next(part for msg in parsed for part in msg.walk()
               if part.get_content_type() == "image/png").get_payload(decode=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png
    forwarded = next(part for msg in parsed for part in msg.walk()
                     if part.get_content_type() == "message/rfc822")
    assert forwarded.get_payload(0)["Subject"] == "Lunch on Thursday?"


def test_deterministic_apart_from_pid(tmp_path):
    build_demo_maildir(str(tmp_path / "a"))
    build_demo_maildir(str(tmp_path / "b"))
    a, b = messages(tmp_path / "a"), messages(tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_dovecot_reads_it(demo):
    with imapproc.spawn_dovecot(str(demo)) as imap:
        listing = b"".join(imap.command('LIST "" "*"'))
        assert b'"INBOX"' in listing or b" INBOX\r\n" in listing
        assert b"Work" in listing and b"Lists" in listing
        select = b"".join(imap.command("SELECT INBOX"))
        assert b"* %d EXISTS" % len(messages(demo)) in select
        sizes = imap.command("FETCH 1:* RFC822.SIZE")
        assert imapproc.status_of(sizes) == b"OK"
        assert len(sizes) == len(messages(demo)) + 1
        unseen = imap.command("SEARCH UNSEEN")[0]
        new = len(list((demo / "new").iterdir()))
        unseen_cur = sum(1 for p in (demo / "cur").iterdir() if "S" not in p.name.split(":2,")[1])
        assert len(unseen.split()) - 2 == new + unseen_cur


def test_demo_module_is_not_imported_at_startup():
    code = "import sys, imapsession.cli; sys.exit('imapsession.demo' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(imapproc.REPO))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_our_binary_runs_the_demo(tmp_path):
    argv = [sys.executable, "-m", "imapsession", "--demo"]
    if imapproc.running_as_root():
        argv.append("--allow-root")
    env = imapproc.ours_env(str(tmp_path), str(tmp_path / "unused"))
    with imapproc.spawn(argv, env, cwd=str(tmp_path)) as imap:
        assert imap.greeting.startswith(b"* PREAUTH ")
        select = b"".join(imap.command("SELECT INBOX"))
        assert re.search(rb"\* 1\d EXISTS\r\n", select)
        fetched = b"".join(imap.command("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
        assert b"Welcome to imapsession" in fetched
        assert imapproc.status_of(imap.logout()) == b"OK"
    assert not (tmp_path / "unused").exists()
