"""Run a target for a time budget on a seed; keep a shrunk reproducer on failure.

    python -m fuzz --target parser|session|binary|login|login-binary --seconds N [--seed S]
    python -m fuzz --target session|binary --backend mbox ...   # mbox, an MDA appending
    python -m fuzz --target session --examples N --seed S [--clock fixed|real|EPOCH]
    python -m fuzz replay fuzz/corpus/FILE.imap     # re-run a reproducer, checks on
    python -m fuzz strip fuzz/corpus/FILE.imap      # session A's bytes, to pipe by hand

Hypothesis runs in batches of examples, each batch on seed S, S+1, ... until the
budget is spent, so a red run is reproduced by the same seed. A failure's last
(shrunk) example is written to ``fuzz/corpus/`` as a plain IMAP transcript.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fuzz.case import CORPUS, read_case, render, write_case
from fuzz.replay import replay

__all__ = ["CORPUS", "read_transcript", "replay", "run_target", "strip", "write_transcript"]


# --- saved cases (the format: fuzz/case.py; replaying: fuzz/replay.py) -----------------


def write_transcript(transcript: list[tuple], header: list[str], directory: Path = CORPUS,
                     meta: dict[str, str] | None = None) -> Path:
    return write_case(transcript, header, directory, meta)


def read_transcript(data: bytes) -> list[tuple]:
    return read_case(data).steps


def strip(path: Path, session: str = "A") -> bytes:
    return b"".join(d for k, w, d in read_transcript(path.read_bytes()) if k == "send" and w == session)


# --- targets ----------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.examples = 0
        self.commands = 0
        self.digest = hashlib.sha1()  # of every example's steps and bytes: same run, same digest


def bound_shrinking(seconds: float) -> None:
    """Cap Hypothesis's shrinking (5 minutes by default) so a failing CI run ends on time.

    Hypothesis has no public setting for this; the engine reads a module constant.
    """
    from hypothesis.internal.conjecture import engine

    engine.MAX_SHRINKING_SECONDS = max(1, int(seconds))


BY_HAND = {"maildir": "MAIL=maildir:$(mktemp -d)/M python -m imapsession --allow-root",
           "mbox": "(d=$(mktemp -d); MAIL=mbox:$d:INBOX=$d/inbox python -m imapsession "
                   "--allow-root)"}
STEPS = 80  # rules per session example (Hypothesis's stateful_step_count)
FIXED_CLOCK = 1767225600.0  # 2026-01-01T00:00:00Z: where --clock fixed starts


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, stateful_step_count=STEPS,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                    report_multiple_bugs=False)


def parser_test(stats: Stats, examples: int, last: list):
    from fuzz import parser_target
    from fuzz import strategies as fst

    @_settings(examples)
    @given(st.data())
    def run(data):
        stats.examples += 1
        if data.draw(st.booleans()):
            command = data.draw(fst.commands())
            rng = random.Random(data.draw(st.integers(0, 2**32)))
            last[:] = [parser_target.encode(command, rng), "roundtrip"]
            stats.digest.update(last[0])
            stats.commands += 1
            parser_target.check_roundtrip(command, rng)
        else:
            chunk = data.draw(fst.broken_commands(parser_target.encoded_commands()))
            last[:] = [chunk, "broken"]
            stats.digest.update(chunk)
            stats.commands += chunk.count(b"\n") or 1
            parser_target.check_broken(chunk)
    return run


LOGIN_TARGETS = {"login": "session", "login-binary": "binary"}  # target -> transport


def session_test(stats: Stats, examples: int, transport: str, machine=None,
                 clock_start: float | None = FIXED_CLOCK, backend: str = "maildir"):
    from hypothesis.stateful import get_state_machine_test

    if transport in LOGIN_TARGETS:
        from fuzz.login_target import LoginMachine

        base, transport = machine or LoginMachine, LOGIN_TARGETS[transport]
    else:
        from fuzz import session_target

        base = machine or session_target.SessionMachine

    class Counted(base):
        def __init__(self):
            stats.examples += 1
            super().__init__()

        def teardown(self):
            stats.commands += self.h.commands
            stats.digest.update(render(self.h.transcript, []))
            super().teardown()

    Counted.transport = transport
    Counted.clock_start = clock_start
    Counted.backend = backend
    Counted.__name__ = base.__name__
    Counted.model_name = f"{base.__module__}:{base.__qualname__}"
    return get_state_machine_test(Counted, settings=_settings(examples))


def batch_seed(first_seed: int, index: int) -> int:
    """Hypothesis's seed for batch ``index`` of a run on ``first_seed``.

    Spread apart, so runs on neighbouring seeds do not share batches.
    """
    return first_seed * 1_000_003 + index


def run_target(target: str, seconds: float, first_seed: int, *, batch: int | None = None,
               machine=None, corpus: Path = CORPUS, max_examples: int | None = None,
               shrink_seconds: float = 60, clock_start: float | None = FIXED_CLOCK,
               backend: str = "maildir") -> tuple[Stats, Path | None, str | None]:
    """Run batches until the budget (or ``max_examples``) is spent or something fails.

    The budget is checked between batches (a batch overruns it by a few seconds at
    most); shrinking a failure is capped at ``shrink_seconds``.
    """
    stats = Stats()
    last: list = []
    bound_shrinking(shrink_seconds)
    if batch is None:
        batch = 5 if target in ("binary", "login-binary") else 100
    # the server logs each internal error with a traceback: the reproducer says it all
    server_log = logging.getLogger("imapsession")
    was_disabled, server_log.disabled = server_log.disabled, True
    start = time.monotonic()
    index = 0
    try:
        while time.monotonic() - start < seconds and (
                max_examples is None or stats.examples < max_examples):
            per_batch = batch * 8 if target == "parser" else batch  # parser examples are cheap
            size = per_batch if max_examples is None else min(per_batch,
                                                              max_examples - stats.examples)
            if target == "parser":
                test = parser_test(stats, size, last)
            else:
                test = session_test(stats, size, target, machine, clock_start, backend)
            current = batch_seed(first_seed, index)
            try:
                seed(current)(test)()
            except Exception as exc:  # noqa: BLE001 - every failure is reported with its case
                error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                name = target if backend == "maildir" else f"{target}-{backend}"
                header = [f"target {name} seed {first_seed} (batch {index}, "
                          f"hypothesis seed {current})",
                          f"expected failure (before the fix): {error[:2000]}",
                          "replay: python -m fuzz replay THIS_FILE",
                          "by hand: python -m fuzz strip THIS_FILE | " + BY_HAND[backend]]
                if target == "parser":
                    transcript = [("open", "A", b""), ("send", "A", last[0] if last else b"")]
                    meta = {"target": target, "check": last[1] if last else "broken",
                            "clock": "real" if clock_start is None else repr(clock_start)}
                else:
                    from fuzz.machine.base import LAST

                    transcript = LAST[0].h.transcript if LAST else []
                    meta = {"target": target,
                            "model": getattr(LAST[0], "model_name", "") if LAST else "",
                            "transport": LOGIN_TARGETS.get(target, target),
                            "backend": backend,
                            "clock": "real" if clock_start is None else repr(clock_start)}
                path = write_transcript(transcript, header, corpus, meta)
                return stats, path, error
            index += 1
    finally:
        server_log.disabled = was_disabled
    return stats, None, None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("replay", "strip"):
        from fuzz.tools import helper

        return helper(argv)
    parser = argparse.ArgumentParser(prog="python -m fuzz")
    parser.add_argument("--target", required=True,
                        choices=["parser", "session", "binary", "login", "login-binary"])
    parser.add_argument("--backend", choices=["maildir", "mbox"], default="maildir",
                        help="the store under the session and binary targets (mbox: one "
                             "file per mailbox, an MDA appending under dot-lock and fcntl)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--examples", type=int, default=None,
                        help="run exactly this many examples (the time budget is then off): "
                             "with the pinned Hypothesis, a seed is the same run anywhere")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clock", default="fixed",
                        help="fixed (from 2026-01-01, one second per exchange; the default), "
                             "real, or a start in epoch seconds")
    args = parser.parse_args(argv)
    first = args.seed if args.seed is not None else random.randrange(2**31)
    clock_start = {"fixed": FIXED_CLOCK, "real": None}.get(args.clock)
    if clock_start is None and args.clock != "real":
        clock_start = float(args.clock)
    seconds = float("inf") if args.examples is not None else args.seconds
    start = time.monotonic()
    if args.target not in ("session", "binary") and args.backend != "maildir":
        parser.error("--backend is for the session and binary targets")
    if args.target == "login-binary" and os.geteuid() != 0:
        parser.error("login-binary runs login mode, which changes uid: run it as root")
    stats, path, error = run_target(args.target, seconds, first, max_examples=args.examples,
                                    clock_start=clock_start, backend=args.backend)
    elapsed = time.monotonic() - start
    print(f"target={args.target} backend={args.backend} seed={first} seconds={elapsed:.1f} examples={stats.examples} "
          f"commands={stats.commands} commands/s={stats.commands / max(elapsed, 1e-9):.0f} "
          f"failures={1 if path else 0} digest={stats.digest.hexdigest()[:12]}")
    if path:
        print(f"FAILURE: {error}")
        print(f"reproducer: {path}")
        sys.stdout.write(path.read_bytes().decode("utf-8", "replace"))
        return 1
    return 0
