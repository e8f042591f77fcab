"""Everything a running session gets for debugging, in one place for every mode:
stack dumps, crash reports, test-only faults, the process title and the rawlog."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from imapsession.observe import crash, faults
from imapsession.observe.proctitle import ProcessTitle
from imapsession.observe.rawlog import RawLog, user_rawlog_dir
from imapsession.storage.modes import Modes

log = logging.getLogger("imapsession")


def default_crash_dir(home: str) -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(state, "imapsession", "crash")


def _tighten_state(crash_dir: str, default: bool) -> None:
    """Our state directory and crash directory are the owner's only (reports hold mail text),
    also when an older version made them 0755."""
    private = Modes.private()
    private.tighten(crash_dir)
    if default:
        private.tighten(os.path.dirname(crash_dir))  # ~/.local/state/imapsession


class Debugging:
    """Attach to a session with ``attach``; ``close`` when the session is over."""

    def __init__(self, *, user: str, home: str, remote: str | None, crash_dir: str | None,
                 rawlog_dir: str | None, rawlog_timestamps: bool,
                 config: Mapping[str, object]):
        self.user = user
        self.remote = remote
        self.crash_dir = crash_dir or default_crash_dir(home)
        self.rawlog_dir = rawlog_dir or user_rawlog_dir(home)
        self.rawlog_timestamps = rawlog_timestamps
        self.config = dict(config)
        self.stacks: str | None = None
        _tighten_state(self.crash_dir, crash_dir is None)
        try:
            self.stacks = crash.install_faulthandler(self.crash_dir)
            # not at INFO: a line per login about a file that stays empty is noise; a
            # dump is named in the log by the next session (crash.sweep_stacks)
            log.debug("Fatal errors and SIGUSR1 dump Python stacks to %s", self.stacks)
        except OSError as exc:
            log.warning("No stack dumps: can't write to %s: %s", self.crash_dir, exc)

    def attach(self, session) -> None:
        session.faults = faults.parse(os.environ.get(faults.ENVIRONMENT))
        session.crash_reporter = self._report
        session.on_command = ProcessTitle(self.user, self.remote)
        session.on_command(None)

    def _report(self, exc: BaseException, session) -> str:
        context = {"user": self.user, "remote": self.remote or "local",
                   "mode": self.config.get("mode", "")}
        return crash.write_report(self.crash_dir, exc, context=context, config=self.config,
                                  transcript=list(session.transcript.entries))

    def rawlog(self) -> RawLog | None:
        if self.rawlog_dir is None:
            return None
        try:
            return RawLog(self.rawlog_dir, self.rawlog_timestamps)
        except OSError as exc:
            log.warning("No rawlog: can't write to %s: %s", self.rawlog_dir, exc)
            return None

    def close(self) -> None:
        """A stack-dump file nothing was written to is removed at a normal exit."""
        if self.stacks is not None:
            try:
                if os.path.getsize(self.stacks) == 0:
                    os.unlink(self.stacks)
            except OSError:
                pass
