"""Real client libraries driving the binary as a tunnel: imaplib.IMAP4_stream and IMAPClient.

This is how mutt's ``tunnel`` or offlineimap's ``preauthtunnel`` use the server:
the client spawns it through a shell and speaks over its stdin/stdout. The
results are checked against the demo maildir's files, and the file system is
checked after the writes (the files are the truth). ``IMAPSESSION_CLIENT_SERVER=dovecot``
runs the same workflows against Dovecot's imap to check the tests themselves.
"""

from __future__ import annotations

import imaplib
import os
import re
import shlex
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from imapclient import IMAPClient

import imapproc
from imapsession.demo import build_demo_maildir

ON_DOVECOT = os.environ.get("IMAPSESSION_CLIENT_SERVER") == "dovecot"
WATCHDOG_SECONDS = 30
NEW_MESSAGE = (b"From: Tester <tester@example.com>\r\nTo: demo@imapsession.example\r\n"
               b"Subject: appended by imaplib\r\nDate: Mon, 01 Jul 2024 12:00:00 +0000\r\n"
               b"\r\nHello from the test.\r\n")


@pytest.fixture
def mail(tmp_path) -> Path:
    """A private home holding a fresh demo maildir, owned by whoever the server runs as."""
    source = tmp_path / "source"
    build_demo_maildir(str(source))
    owner = imapproc.NOBODY if ON_DOVECOT and imapproc.running_as_root() else None
    top, _home, maildir = imapproc.make_home(str(source), owner)
    yield Path(maildir)
    shutil.rmtree(top, ignore_errors=True)


def tunnel_command(maildir: Path) -> str:
    """The shell command a client would put in its tunnel setting."""
    home = str(maildir.parent)
    if ON_DOVECOT:
        argv = imapproc.dovecot_argv(home, str(maildir))
    else:
        env = imapproc.ours_env(home, str(maildir))
        argv = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *imapproc.ours_argv()]
    return shlex.join(argv)


def files(folder: Path) -> list[Path]:
    return [p for sub in ("cur", "new") for p in (folder / sub).iterdir()]


def unseen_files(folder: Path) -> int:
    return sum(1 for p in files(folder) if ":2," not in p.name or "S" not in p.name.split(":2,")[1])


def watchdog(kill) -> threading.Timer:
    """imaplib has no timeouts: kill the server if a test hangs, so the read fails instead."""
    timer = threading.Timer(WATCHDOG_SECONDS, kill)
    timer.daemon = True
    timer.start()
    return timer


def test_imaplib_workflow(mail):
    inbox_count = len(files(mail))
    work_count = len(files(mail / ".Work"))
    imap = imaplib.IMAP4_stream(tunnel_command(mail))
    timer = watchdog(imap.process.kill)
    try:
        assert imap.state == "AUTH"  # PREAUTH greeting
        assert "IMAP4REV1" in imap.capabilities

        typ, listing = imap.list()
        assert typ == "OK"
        names = {line.rsplit(b" ", 1)[-1].strip(b'"') for line in listing}
        assert {b"INBOX", b"Work", b"Lists"} <= names

        typ, data = imap.select("INBOX")
        assert typ == "OK" and int(data[0]) == inbox_count

        typ, data = imap.search(None, "UNSEEN")
        assert typ == "OK" and len(data[0].split()) == unseen_files(mail)

        typ, data = imap.search(None, "SUBJECT", '"Welcome to imapsession"')
        assert data == [b"1"]
        typ, data = imap.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        assert b"\\Seen" in data[0][0] and data[0][1].strip() == b"Subject: Welcome to imapsession"

        typ, data = imap.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "OK" and b"\\Flagged" in data[0]
        first = [p.name for p in files(mail) if ".M100001P" in p.name]
        assert len(first) == 1 and first[0].endswith(":2,FS")

        typ, data = imap.copy("1:2", "Work")
        assert typ == "OK"
        typ, data = imap.status("Work", "(MESSAGES)")
        assert typ == "OK" and f"(MESSAGES {work_count + 2})".encode() in data[0]
        assert len(files(mail / ".Work")) == work_count + 2

        typ, data = imap.fetch("3", "(UID)")
        uid3 = re.search(rb"UID (\d+)", data[0]).group(1).decode()
        typ, data = imap.uid("MOVE", uid3, "Lists")
        assert typ == "OK"
        typ, data = imap.select("INBOX")
        assert int(data[0]) == inbox_count - 1

        typ, data = imap.store("2", "+FLAGS", "(\\Deleted)")
        assert typ == "OK"
        typ, data = imap.expunge()
        # The demo INBOX already had one \Deleted message (14), which goes too.
        assert typ == "OK" and len(data) == 2 and b"2" in data
        assert len(files(mail)) == inbox_count - 3

        date = imaplib.Time2Internaldate(datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc))
        typ, data = imap.append("INBOX", "(\\Seen)", date, NEW_MESSAGE)
        assert typ == "OK"
        assert len(files(mail)) == inbox_count - 2
        appended = [p for p in files(mail) if b"appended by imaplib" in p.read_bytes()]
        assert len(appended) == 1 and appended[0].name.endswith(":2,S")

        typ, data = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
        assert typ == "OK"
        counts = dict(re.findall(rb"(MESSAGES|UNSEEN|UIDNEXT) (\d+)", data[0]))
        assert int(counts[b"MESSAGES"]) == inbox_count - 2
        assert int(counts[b"UNSEEN"]) == unseen_files(mail)

        typ, data = imap.noop()
        typ, data = imap.search(None, "SUBJECT", '"appended by imaplib"')
        assert len(data[0].split()) == 1
        typ, data = imap.fetch(data[0], "(INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        assert b"01-Jul-2024 12:00:00 +0000" in data[0][0]
        assert f"RFC822.SIZE {len(NEW_MESSAGE)}".encode() in data[0][0]
        assert data[0][1] == NEW_MESSAGE

        typ, data = imap.logout()
        assert typ == "BYE"
    finally:
        timer.cancel()
    assert imap.process.wait(10) == 0


class TunnelClient(IMAPClient):
    """IMAPClient in stream mode; imapclient 3.0 sets a socket timeout there and has no socket."""

    def _set_read_timeout(self):
        pass


def test_imapclient_workflow(mail):
    inbox_count = len(files(mail))
    client = TunnelClient(tunnel_command(mail), stream=True, ssl=False)
    timer = watchdog(client._imap.process.kill)
    try:
        assert b"IMAP4REV1" in client.capabilities()
        folders = {name for _flags, _sep, name in client.list_folders()}
        assert {"INBOX", "Work", "Lists"} <= folders

        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == inbox_count
        uids = client.search(["ALL"])
        assert len(uids) == inbox_count and uids == sorted(uids)

        unseen = client.search(["UNSEEN"])
        assert len(unseen) == unseen_files(mail)
        japanese = client.search(["SUBJECT", "会議"], charset="UTF-8")
        assert len(japanese) == 2

        fetched = client.fetch(uids[:3], ["FLAGS", "RFC822.SIZE", "ENVELOPE"])
        assert sorted(fetched) == uids[:3]
        assert fetched[uids[0]][b"ENVELOPE"].subject == b"Welcome to imapsession"
        sizes = sorted(fetched[u][b"RFC822.SIZE"] for u in uids[:3])
        on_disk = sorted(len(p.read_bytes().replace(b"\n", b"\r\n"))
                         for p in sorted(files(mail), key=lambda p: p.name)[:3])
        assert sizes == on_disk

        client.add_flags([uids[0]], [b"$Important"])
        assert b"$Important" in client.get_flags([uids[0]])[uids[0]]
        client.copy([uids[1]], "Work")
        client.move([uids[2]], "Lists")
        assert client.folder_status("Lists", [b"MESSAGES"])[b"MESSAGES"] == \
            len(files(mail / ".Lists"))

        client.delete_messages([uids[0]])
        client.expunge()
        remaining = client.search(["ALL"])
        assert uids[0] not in remaining and uids[2] not in remaining

        client.append("INBOX", NEW_MESSAGE, flags=[b"\\Seen"])
        assert client.search(["SUBJECT", "appended by imaplib"])
        client.logout()
    finally:
        timer.cancel()
