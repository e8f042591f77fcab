"""The COPY/MOVE bug of issue 13, planted back for tests (as tests/test_fuzz_planted.py
plants its fault: a Session subclass the fuzzer's machine is given as ``session_factory``).

``OldCopySession`` copies (or moves) what still exists and skips a requested message
that is gone without a word: ``COPY 1:2`` after another session expunged 2 answers
``OK [COPYUID v 1 n]``. The real session answers ``NO [EXPUNGEISSUED]`` and copies
nothing. Nothing outside tests imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fuzz import session_target
from imapsession.session import Session
from imapsession.storage.base import CopyResult, MessageGone

Copier = Callable[[Iterable[int], str], CopyResult]


def skipping(copy: Copier) -> Copier:
    """``copy`` one message at a time, skipping the gone ones: the old, silent answer."""
    def copy_what_exists(uids: Iterable[int], target: str) -> CopyResult:
        validity, sources, targets = None, [], []
        for uid in sorted(set(uids)):
            try:
                result = copy([uid], target)
            except MessageGone:
                continue
            validity = result.uidvalidity
            sources += result.source_uids
            targets += result.target_uids
        if validity is None:
            validity = copy([], target).uidvalidity
        return CopyResult(validity, tuple(sources), tuple(targets))
    return copy_what_exists


class OldCopySession(Session):
    """A session whose COPY and MOVE skip gone messages (the planted bug)."""

    def _dispatch(self, command, entry):
        mailbox = self.view.mailbox if self.view is not None else None
        if command.name not in ("COPY", "MOVE") or mailbox is None:
            return super()._dispatch(command, entry)
        mailbox.copy_to = skipping(mailbox.copy_to)
        mailbox.move_to = skipping(mailbox.move_to)
        try:
            return super()._dispatch(command, entry)
        finally:
            del mailbox.copy_to, mailbox.move_to


class OldCopyMachine(session_target.SessionMachine):
    session_factory = OldCopySession
