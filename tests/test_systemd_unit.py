"""The systemd units: they verify, the sandbox scores 2.0 or better, and login.conf's
suggested log file is one the sandbox lets the service write.

No systemd runs the units here (test_deploy_frontends runs their ExecStart= through
systemd-socket-activate); systemd-analyze checks what it can offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_login_world import LAUNCHER, REPO

UNITS = REPO / "inetd" / "systemd"
SERVICE = (UNITS / "imapsession@.service").read_text()


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    return subprocess.run(["systemd-analyze", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def units(tmp_path):
    """The units with the binary's path made real (verify checks it is executable)."""
    (tmp_path / "imapsession@.service").write_text(
        SERVICE.replace("/usr/local/bin/imapsession", str(LAUNCHER)))
    shutil.copy(UNITS / "imapsession.socket", tmp_path)
    return tmp_path


def values(key: str) -> list[str]:
    return [word for line in re.findall(rf"^{key}=(.*)$", SERVICE, re.M) for word in line.split()]


def test_units_verify(units):
    done = analyze("verify", "./imapsession.socket", "./imapsession@.service", cwd=units)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_security_exposure_is_at_most_2_0(units):
    done = analyze("security", "--offline=true", "--threshold=20", "./imapsession@.service",
                   cwd=units)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert score and float(score.group(1)) <= 2.0, done.stdout[-2000:]
    assert done.returncode == 0


def test_the_suggested_log_file_is_writable_under_the_sandbox():
    login_conf = (REPO / "inetd" / "login.conf").read_text()
    log_file = re.search(r"^#\s*log_file = (\S+)$", login_conf, re.M).group(1)
    assert "ProtectSystem=strict" in SERVICE
    writable = [f"/var/log/{name}" for name in values("LogsDirectory")]
    writable += [path.lstrip("-") for path in values("ReadWritePaths")]
    assert any(log_file.startswith(path.rstrip("/") + "/") for path in writable), (
        log_file, writable)


def test_what_login_mode_needs_is_kept():
    assert set(values("CapabilityBoundingSet")) == {"CAP_SETUID", "CAP_SETGID", "CAP_KILL"}
    assert values("UMask") == ["0077"]
    assert "@system-service" in values("SystemCallFilter")  # keeps @setuid and setrlimit
    denied = [v for v in values("SystemCallFilter") if v.startswith("~")]
    assert not any(group in " ".join(denied) for group in ("@setuid", "@privileged", "@resources"))
    assert "/home" in values("ReadWritePaths")
