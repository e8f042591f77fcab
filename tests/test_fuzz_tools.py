"""``python -m fuzz replay|strip``: one-line errors with exit 2, and quiet on a closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASE = REPO / "fuzz" / "corpus" / "session-copy-race-seed31337001.imap"


def fuzz(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "fuzz", *args], capture_output=True,
                          cwd=REPO, env=env, timeout=60, **kwargs)


def one_line_error(result: subprocess.CompletedProcess, words: bytes) -> None:
    assert result.returncode == 2, result
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.stderr.count(b"\n") == 1 and words in result.stderr, result.stderr


def test_missing_file(tmp_path):
    for helper in ("replay", "strip"):
        one_line_error(fuzz(helper, str(tmp_path / "nosuch.imap")), b"No such file")


def test_unreadable_or_not_a_case(tmp_path):
    one_line_error(fuzz("replay", str(tmp_path)), b"cannot read")  # a directory
    junk = tmp_path / "junk.imap"
    junk.write_bytes(b"#! send A zz\nhello\n")
    one_line_error(fuzz("replay", str(junk)), b"not a saved case")
    junk.write_bytes(b"just text\n")
    one_line_error(fuzz("strip", str(junk)), b"not a saved case")


def test_bad_arguments():
    one_line_error(fuzz("strip"), b"usage:")
    one_line_error(fuzz("replay", str(CASE), "session", "more"), b"usage:")
    one_line_error(fuzz("replay", str(CASE), "carrier-pigeon"), b"transport")


def test_strip_into_a_closed_pipe_is_quiet(tmp_path):
    big = tmp_path / "big.imap"
    big.write_bytes(b"#! open A\n#! send A 2000000\n" + b"x" * 1999998 + b"\r\n")
    strip = subprocess.Popen([sys.executable, "-m", "fuzz", "strip", str(big)], cwd=REPO,
                             env=dict(os.environ, PYTHONPATH=str(REPO)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert strip.stdout.read(10) == b"x" * 10
    strip.stdout.close()  # as `| head -c 10` does
    err = strip.stderr.read()
    assert strip.wait(timeout=60) == 0
    assert err == b"", err


def test_helpers_still_work():
    result = fuzz("strip", str(CASE))
    assert result.returncode == 0 and b" CREATE a\r\n" in result.stdout
    result = fuzz("replay", str(CASE))
    assert result.returncode == 0 and result.stdout.startswith(b"ok "), result


def test_a_login_binary_case_as_non_root_says_it_needs_root():
    """The login-binary target changes uid: replayed by an ordinary user, one line, no traceback."""
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's tmp_path is closed to nobody
    try:
        os.chmod(top, 0o755)
        case = top / "login-binary.imap"
        case.write_bytes(b"#! format 2\n#! target login\n#! model fuzz.login_target:LoginMachine\n"
                         b"#! transport binary\n#! open A\n#! send A 12\na1 LOGOUT\r\n")
        os.chmod(case, 0o644)
        runner = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                  if os.geteuid() == 0 else [])
        env = dict(os.environ, PYTHONPATH=str(REPO), HOME="/tmp")
        result = subprocess.run([*runner, sys.executable, "-m", "fuzz", "replay", str(case)],
                                capture_output=True, cwd="/", env=env, timeout=60)
        one_line_error(result, b"needs root")
    finally:
        shutil.rmtree(top, ignore_errors=True)
