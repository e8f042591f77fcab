"""The root parent's only judgement: do these credentials name a user we may become?

An unknown user costs one verification of a hash of the file's commonest scheme
(result ignored), so the answer and its timing do not tell who exists.
"""

from __future__ import annotations

import attrs

from imapsession.auth import passwd_file, verify
from imapsession.auth.options import LoginConfig
from imapsession.auth.request import LoginRequest


@attrs.frozen
class Account:
    """Who the session becomes."""

    user: str
    uid: int
    gid: int
    home: str


@attrs.frozen
class Verdict:
    account: Account | None
    reason: str  # for the log only: never sent to the client
    verifications: int  # hashes verified, dummy included (1 for a known or unknown user)

    @property
    def ok(self) -> bool:
        return self.account is not None


def check(config: LoginConfig, request: LoginRequest) -> Verdict:
    if request.authzid and request.authzid != request.user:
        return Verdict(None, "authorization identity differs", 0)
    try:
        user = request.user.decode("utf-8")
    except UnicodeDecodeError:
        user = None
    account, reason, work = None, "unknown user", 0
    if config.passwd_file is not None:
        found = passwd_file.lookup(config.passwd_file, user if user is not None else "\0")
        stored = found.entry.password if found.entry is not None else found.dummy
        if stored is not None:
            try:
                matched = verify.verify(stored, request.password)
            except verify.UnsupportedScheme as exc:
                matched, reason = False, f"unsupported scheme {exc}"
            work += 1
            if found.entry is not None:
                if matched:
                    entry = found.entry
                    account = Account(entry.user, entry.uid, entry.gid, entry.home)
                elif not reason.startswith("unsupported"):
                    reason = "password mismatch"
    if account is None and config.pam and user is not None and reason == "unknown user":
        from imapsession.auth import pam

        entry = pam.authenticate(user, request.password)
        work += 1
        if entry is not None:
            account = Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
        else:
            reason = "PAM refused"
    if account is None:
        return Verdict(None, reason, work)
    refusal = _refuse_account(config, account)
    if refusal:
        return Verdict(None, refusal, work)
    return Verdict(account, "ok", work)


def _refuse_account(config: LoginConfig, account: Account) -> str | None:
    if account.uid == 0 or account.gid == 0:
        return "uid or gid 0 is never a mail user"
    if account.uid < config.first_valid_uid:
        return f"uid {account.uid} is below first_valid_uid {config.first_valid_uid}"
    if not account.home.startswith("/"):
        return "home is not an absolute path"
    return None
