"""Our server against Dovecot's imap, side by side, on one generated maildir.

Usage: ``python bench/bench.py [--messages N] [--runs R] [--dir D] [--ours dovecot]
[--format mbox]``.

The maildir (10,000 messages, about 480 MB by default: the size the issues
quote their speed figures for) is generated once and cached under ``--dir``.
Each run gives every server a fresh hard-linked copy of it (no index yet), and
the servers alternate inside every run, first one then the other, so drift on a
shared machine hits both alike. Figures are medians over the runs; compare the ratios, not the
absolute times. ``--ours dovecot`` runs Dovecot on both sides (a check of the
benchmark itself). ``--format mbox`` serves the same messages as one INBOX mbox
(``mbox:ROOT:INBOX=ROOT/inbox``), written once from the maildir as an MDA would
(no X-IMAPbase: each server gives UIDs on its first SELECT) and copied per run,
since mbox servers rewrite the file in place.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import imapproc  # noqa: E402

SEARCH_WORD = "quetzal"
APPENDS = 1000
TIMEOUT = 900.0

WORDS = ("the of and to in is that for it as with was on be by this are from at or an have not "
         "which but all were when we there can more if no out so said what up its about into "
         "than them only other new some could time these two may first then do any like my now "
         "over such our man me even most made after also did many before must through back "
         "years where much your way well down should because each just those people how too "
         "little state good very make world still own see men work long get here between both "
         "life being under never day same another know while last might us great old year off "
         "come since against go came right used take three meeting budget report server mail "
         "index storage protocol release deadline schedule invoice review").split()


# --- the maildir ---------------------------------------------------------------------


def _text(rng: random.Random, size: int, rare: bool) -> str:
    words = rng.choices(WORDS, k=max(8, size // 6))
    if rare:
        words[rng.randrange(len(words))] = SEARCH_WORD
    lines = [" ".join(words[i:i + 11]) for i in range(0, len(words), 11)]
    return "\n".join(lines) + "\n"


def _message(rng: random.Random, n: int, when: datetime, blob: str) -> bytes:
    """One message: mostly short text, some with a base64 attachment, a few big ones."""
    kind = rng.random()
    subject_words = rng.choices(WORDS, k=rng.randint(2, 8))
    if rng.random() < 0.01:
        subject_words.insert(1, SEARCH_WORD)
    head = (f"Return-Path: <sender{n % 97}@example.com>\n"
            f"Received: from mx{n % 7}.example.net by mail.example.org; "
            f"{when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"From: Sender {n % 97} <sender{n % 97}@example.com>\n"
            f"To: Bench User <bench@example.org>\n"
            f"Subject: {' '.join(subject_words)}\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
            f"Message-ID: <bench-{n}@example.com>\n"
            f"MIME-Version: 1.0\n")
    rare = rng.random() < 0.02
    if kind < 0.75:
        body = _text(rng, rng.randint(800, 9000), rare)
        return (head + "Content-Type: text/plain; charset=us-ascii\n\n" + body).encode()
    size = rng.randint(20_000, 300_000) if kind < 0.97 else rng.randint(200_000, 600_000)
    start = rng.randrange(0, len(blob) - size - 100)
    start -= start % 77  # whole base64 lines
    attachment = blob[start:start + size - size % 77]
    boundary = f"=-bench-{n}-="
    return (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n"
            + _text(rng, rng.randint(300, 3000), rare)
            + f"--{boundary}\nContent-Type: application/octet-stream; name=\"file{n}.bin\"\n"
            f"Content-Disposition: attachment; filename=\"file{n}.bin\"\n"
            f"Content-Transfer-Encoding: base64\n\n{attachment}"
            f"--{boundary}--\n").encode()


def generate(path: Path, count: int) -> None:
    """Write ``count`` messages into a Maildir at ``path``; deterministic (seeded)."""
    rng = random.Random(20240101)
    blob = base64.encodebytes(rng.randbytes(1_000_000)).decode()
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    start = datetime(2022, 1, 1, tzinfo=timezone.utc)
    for n in range(count):
        when = start + timedelta(seconds=n * (730 * 86400 // max(count, 1)) + rng.randint(0, 3600))
        data = _message(rng, n, when, blob)
        stamp = int(when.timestamp())
        flags = "".join(f for f, p in (("F", 0.05), ("R", 0.2), ("S", 0.8)) if rng.random() < p)
        name = f"{stamp}.M{n:06d}P1.bench,S={len(data)}:2,{flags}"
        target = path / "cur" / name
        target.write_bytes(data)
        os.utime(target, (stamp, stamp))


def cached_maildir(base: Path, count: int) -> Path:
    path = base / f"maildir-{count}"
    done = path / ".complete"
    if not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        started = time.perf_counter()
        print(f"generating {count} messages in {path} ...", file=sys.stderr, flush=True)
        generate(path, count)
        done.write_text("")
        size = sum(f.stat().st_size for f in (path / "cur").iterdir())
        print(f"  {size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def link_copy(source: Path, owner: int | None) -> tuple[str, str, str]:
    """A fresh home with a hard-linked copy of the maildir: fast, and no index in it.

    Maildir servers never rewrite a message file in place (flags are renames,
    expunges unlink), so sharing inodes with the cache is safe. Only the
    directories are given to ``owner``: chowning a file would chown the cache.
    """
    top = tempfile.mkdtemp(prefix="imapbench-")
    home = os.path.join(top, "home")
    mail = os.path.join(home, "Maildir")
    dirs = [top, home, mail]
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(mail, sub))
        dirs.append(os.path.join(mail, sub))
        for entry in os.scandir(source / sub):
            os.link(entry.path, os.path.join(mail, sub, entry.name))
    if owner is not None:
        for d in dirs:
            os.chown(d, owner, owner)
    return top, home, mail


def cached_mbox(base: Path, count: int) -> Path:
    """The cached maildir's messages, in file-name (date) order, as one mbox file."""
    path = base / f"mbox-{count}" / "inbox"
    done = path.parent / ".complete"
    if not done.exists():
        maildir = cached_maildir(base, count)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for name in sorted(os.listdir(maildir / "cur")):
                data = (maildir / "cur" / name).read_bytes()
                stamp = time.gmtime(int(name.split(".", 1)[0]))
                letters = name.rpartition(":2,")[2]
                status = b"Status: " + (b"RO" if "S" in letters else b"O") + b"\n"
                xstatus = b"".join(x for f, x in ((b"R", b"A"), (b"F", b"F")) if f.decode()
                                   in letters)
                head, _, body = data.partition(b"\n\n")
                body = body.replace(b"\nFrom ", b"\n>From ")
                out.write(time.strftime("From bench@example.org  %a %b %e %H:%M:%S %Y\n",
                                        stamp).encode() + head + b"\n" + status
                          + (b"X-Status: " + xstatus + b"\n" if xstatus else b"")
                          + b"\n" + body + (b"" if body.endswith(b"\n") else b"\n") + b"\n")
        done.write_text("")
    return path


def mbox_copy(source: Path, owner: int | None) -> tuple[str, str, str]:
    """A fresh home whose mail root holds a copy of the mbox as its INBOX."""
    top = tempfile.mkdtemp(prefix="imapbench-")
    home = os.path.join(top, "home")
    mail = os.path.join(home, "mail")
    os.makedirs(mail)
    shutil.copyfile(source, os.path.join(mail, "inbox"))
    if owner is not None:
        for path in (top, home, mail, os.path.join(mail, "inbox")):
            os.chown(path, owner, owner)
    return top, home, mail


# --- the servers ---------------------------------------------------------------------


class Server:
    def __init__(self, label: str, kind: str, fmt: str = "maildir"):
        self.label = label
        self.kind = kind  # "ours" or "dovecot"
        self.fmt = fmt  # "maildir" or "mbox"

    @property
    def owner(self) -> int | None:
        return imapproc.NOBODY if self.kind == "dovecot" and imapproc.running_as_root() else None

    def spawn(self, home: str, mail: str) -> imapproc.ImapProcess:
        location = f"mbox:{mail}:INBOX={mail}/inbox" if self.fmt == "mbox" else None
        if self.kind == "dovecot":
            argv = imapproc.dovecot_argv(home, mail)
            if location:
                argv[argv.index(f"mail_location=maildir:{mail}")] = f"mail_location={location}"
            env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            argv = imapproc.ours_argv()
            env = imapproc.ours_env(home, mail, **({"MAIL": location} if location else {}))
        return imapproc.spawn(argv, env, cwd="/", timeout=TIMEOUT, home=home, maildir=mail)


def timed(proc: imapproc.ImapProcess, line: str) -> tuple[float, list[bytes]]:
    started = time.perf_counter()
    responses = proc.command(line)
    elapsed = time.perf_counter() - started
    status = imapproc.status_of(responses)
    if status != b"OK":
        raise RuntimeError(f"{line!r}: {responses[-1]!r}")
    return elapsed, responses


def rss_mb(proc: imapproc.ImapProcess) -> float:
    proc.peak_rss_kb = None
    proc._note_rss()
    return (proc.peak_rss_kb or 0) / 1024


def one_run(server: Server, source: Path, samples: list[bytes], results: dict) -> None:
    """Every measurement once for one server, on a fresh copy.

    A measurement whose command fails is recorded as NaN (shown as "failed") and the
    run goes on, so a server that is not finished still gets its other figures.
    """
    def put(name: str, value: float) -> None:
        results.setdefault(name, {}).setdefault(server.label, []).append(value)

    def measure(name: str, proc: imapproc.ImapProcess, line: str, scale: float = 1.0) -> None:
        try:
            put(name, timed(proc, line)[0] * scale)
        except (RuntimeError, AssertionError) as exc:
            print(f"  {server.label}: {name} failed: {str(exc)[:300]}", file=sys.stderr)
            put(name, math.nan)

    def finish(proc: imapproc.ImapProcess) -> float:
        peak = rss_mb(proc)
        try:
            proc.logout()
        except AssertionError:
            proc.close()
        return peak

    # spawn to greeting, on an empty maildir
    top, home, mail = imapproc.make_home(None, server.owner)
    started = time.perf_counter()
    proc = server.spawn(home, mail)
    put("spawn to greeting (ms)", (time.perf_counter() - started) * 1000)
    proc.close()
    shutil.rmtree(top, ignore_errors=True)

    copy = mbox_copy if server.fmt == "mbox" else link_copy
    top, home, mail = copy(source, server.owner)
    try:
        proc = server.spawn(home, mail)
        measure("SELECT INBOX, first (ms)", proc, "SELECT INBOX", 1000)
        measure("FETCH 1:* (FLAGS UID RFC822.SIZE), first (ms)", proc,
                "FETCH 1:* (FLAGS UID RFC822.SIZE)", 1000)
        measure("FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE), first (s)", proc,
                "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
        peak = finish(proc)

        proc = server.spawn(home, mail)
        measure("SELECT INBOX, again (ms)", proc, "SELECT INBOX", 1000)
        measure("FETCH 1:* (FLAGS UID RFC822.SIZE), again (ms)", proc,
                "FETCH 1:* (FLAGS UID RFC822.SIZE)", 1000)
        measure("FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE), again (s)", proc,
                "FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
        name = "FETCH 1:* BODY.PEEK[] (MB/s)"
        before, started = proc.bytes_received, time.perf_counter()
        measure(name, proc, "FETCH 1:* BODY.PEEK[]")
        if not math.isnan(results[name][server.label][-1]):
            results[name][server.label][-1] = ((proc.bytes_received - before) / 1e6
                                               / (time.perf_counter() - started))
        measure(f'SEARCH TEXT "{SEARCH_WORD}" (s)', proc, f'SEARCH TEXT "{SEARCH_WORD}"')
        measure(f'SEARCH HEADER Subject "{SEARCH_WORD}" (ms)', proc,
                f'SEARCH HEADER Subject "{SEARCH_WORD}"', 1000)
        try:
            found = proc.command(f'SEARCH TEXT "{SEARCH_WORD}"')[0]
            count = len(found.split()) - 2 if found.startswith(b"* SEARCH") else math.nan
            put(f'  matches of TEXT "{SEARCH_WORD}"', count)
        except AssertionError:
            put(f'  matches of TEXT "{SEARCH_WORD}"', math.nan)
        peak = max(peak, finish(proc))

        proc = server.spawn(home, mail)
        name = f"APPEND of {len(samples)} messages (s)"
        try:
            timed(proc, "CREATE Bench")
            started = time.perf_counter()
            for data in samples:
                responses = proc.command("APPEND Bench (\\Seen)", [data])
                if imapproc.status_of(responses) != b"OK":
                    raise RuntimeError(f"APPEND: {responses[-1]!r}")
            put(name, time.perf_counter() - started)
        except (RuntimeError, AssertionError) as exc:
            print(f"  {server.label}: {name} failed: {str(exc)[:300]}", file=sys.stderr)
            put(name, math.nan)
        peak = max(peak, finish(proc))
        put("peak RSS (MB)", peak)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _median(values: list[float]) -> float:
    good = [v for v in values if not math.isnan(v)]
    return statistics.median(good) if good else math.nan


def report(results: dict, labels: list[str]) -> str:
    ours, dovecot = labels
    rows = [f"{'measurement':<52} {ours:>12} {dovecot:>12} {'ratio':>8}"]
    for name, by_server in results.items():
        a = _median(by_server.get(ours, []))
        b = _median(by_server.get(dovecot, []))
        ratio = f"{a / b:8.2f}" if b and not math.isnan(a) and not math.isnan(b) else "       -"
        cells = ["      failed" if math.isnan(v) else f"{v:12.3f}" for v in (a, b)]
        rows.append(f"{name:<52} {cells[0]} {cells[1]} {ratio}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--appends", type=int, default=APPENDS)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "imapsession-bench"))
    parser.add_argument("--ours", choices=["ours", "dovecot"], default="ours",
                        help="what runs as 'ours' (dovecot: check the benchmark itself)")
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--format", choices=["maildir", "mbox"], default="maildir",
                        help="serve the messages as a Maildir or as one mbox INBOX")
    args = parser.parse_args(argv)

    maildir = cached_maildir(Path(args.dir), args.messages)
    names = sorted(os.listdir(maildir / "cur"))
    step = max(1, len(names) // max(args.appends, 1))
    samples = [(maildir / "cur" / n).read_bytes().replace(b"\n", b"\r\n")
               for n in names[::step][: args.appends]]
    source = cached_mbox(Path(args.dir), args.messages) if args.format == "mbox" else maildir
    servers = [Server("ours" if args.ours == "ours" else "dovecot(A)", args.ours, args.format),
               Server("dovecot", "dovecot", args.format)]
    results: dict = {}
    for run in range(args.runs):
        order = servers if run % 2 == 0 else servers[::-1]
        for server in order:
            print(f"run {run + 1}/{args.runs}: {server.label}", file=sys.stderr, flush=True)
            one_run(server, source, samples, results)
    print(f"{args.messages} messages ({args.format}), {args.runs} runs, medians; ratio = "
          f"{servers[0].label}/{servers[1].label}")
    print(report(results, [s.label for s in servers]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
