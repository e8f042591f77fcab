"""The login target: the pre-login child's parser, in process and as the real login mode.

Each new check is shown to fail on a planted bug: a refusal that repeats the
password, a child given the post-login limits, a child that answers SELECT before
login with mailbox data. The real program (login mode needs root) is planted
through a ``sitecustomize`` on its PYTHONPATH.

Measured (3 seeds each, in process): the echo found after 47 to 64 examples, the
limits after 18 to 67, the early SELECT after 14 to 49 (shrinking included).
"""

from __future__ import annotations

import os

import pytest

from fuzz import login_target, login_wire
from fuzz.case import read_case
from fuzz.replay import replay
from fuzz.runner import run_target
from imapsession.commands.results import no, ok
from imapsession.protocol.limits import Limits
from imapsession.session import Session

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="login mode changes uid: run the tests as root")


class EchoesPassword(Session):
    """Says the rejected password back: a credential on the wire."""

    def login_failed(self, done, final):
        password = self.pending_login[1].password.decode("ascii", "replace")
        super().login_failed(no(f"Authentication failed for password {password}.",
                                "AUTHENTICATIONFAILED"), final)


class PostLoginLimits(Session):
    """Ignores the pre-login limits it is given: 64 KiB lines before login."""

    def __init__(self, store, user, limits=None, **kwargs):
        super().__init__(store, user, limits=Limits(), **kwargs)


class SelectsBeforeLogin(Session):
    """Answers SELECT before login as if a mailbox were there."""

    def run(self, command):
        if command.name == "SELECT" and self.store is None:
            self.send(b"* 0 EXISTS\r\n")
            self.finish(command, ok("Select completed."))
            return
        super().run(command)


class EchoesPasswordMachine(login_target.LoginMachine):
    session_factory = EchoesPassword


class PostLoginLimitsMachine(login_target.LoginMachine):
    session_factory = PostLoginLimits


class SelectsBeforeLoginMachine(login_target.LoginMachine):
    session_factory = SelectsBeforeLogin


def find(machine, tmp_path, examples=150, seeds=range(3)):
    found = []
    for seed in seeds:
        stats, path, error = run_target("login", 600, seed, machine=machine,
                                        corpus=tmp_path / str(seed), max_examples=examples,
                                        batch=examples, shrink_seconds=3)
        if path is not None:
            found.append((path, error))
    return found


def test_real_child_passes(tmp_path):
    stats, path, error = run_target("login", 600, 5, corpus=tmp_path, max_examples=100)
    assert path is None, error
    assert stats.examples >= 100


@pytest.mark.parametrize(("machine", "words"), [
    (EchoesPasswordMachine, "credential"), (PostLoginLimitsMachine, "expected BAD"),
    (SelectsBeforeLoginMachine, "mail data before login")])
def test_planted_pre_login_bugs_are_found(tmp_path, machine, words):
    factory = machine.session_factory
    found = find(machine, tmp_path)
    assert len(found) >= 2, f"{factory.__name__} found on {len(found)} of 3 seeds"
    path, error = found[0]
    assert words in error, error
    case = read_case(path.read_bytes())
    assert case.meta["target"] == "login" and case.meta["transport"] == "session"
    with pytest.raises(AssertionError):  # the saved case replays through its model
        replay(path, session_factory=factory)
    replay(path, machine=login_target.LoginMachine)


SITECUSTOMIZE = '''
from imapsession.commands.results import no
from imapsession.session import Session

_failed = Session.login_failed


def login_failed(self, done, final):
    password = self.pending_login[1].password.decode("ascii", "replace")
    _failed(self, no("Authentication failed for " + password + ".", "AUTHENTICATIONFAILED"), final)


Session.login_failed = login_failed
'''


@needs_root
def test_login_binary_passes_and_finds_a_planted_echo(tmp_path, monkeypatch):
    stats, path, error = run_target("login-binary", 600, 3, corpus=tmp_path / "real",
                                    max_examples=2)
    assert path is None, error
    plant = tmp_path / "plant"
    plant.mkdir()
    (plant / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setattr(login_wire.LoginBinary, "extra_path", (str(plant),))
    found = []
    for seed in range(3):  # measured: found in the first example of seeds 0, 1 and 2
        stats, path, error = run_target("login-binary", 600, seed, corpus=tmp_path / str(seed),
                                        max_examples=6, batch=6, shrink_seconds=3)
        if path is not None:
            assert "credential" in error, error
            found.append(path)
            break
    assert found, "the planted password echo in the real login mode was not found"
