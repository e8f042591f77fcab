"""``imapsession --bug-report``: what a useful bug report needs, in one paste."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

from imapsession.observe.redact import secret_name

_DEPENDENCIES = ("attrs", "setproctitle", "argon2-cffi", "bcrypt", "libpass", "hypothesis", "pytest")


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _distribution() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


def render(config: Mapping[str, object], places: Mapping[str, str]) -> str:
    from imapsession import __version__

    lines = [
        "imapsession bug report (paste all of this into the report)",
        f"imapsession: {__version__} ({os.path.dirname(os.path.abspath(__file__))[:-8]})",
        f"python: {sys.version.split()[0]} {platform.python_implementation()} ({sys.executable})",
        "dependencies:",
        *[f"  {name}: {_version(name)}" for name in _DEPENDENCIES],
        f"os: {platform.platform()}",
        f"distribution: {_distribution()}",
        f"running as: uid={os.getuid()} euid={os.geteuid()}",
        "effective configuration (secrets masked):",
        *[f"  {key} = {'<hidden>' if secret_name(key) else value}"
          for key, value in sorted(config.items())],
        "where to look:",
        *[f"  {key}: {value}" for key, value in places.items()],
        "",
        "Also send: what you did (a transcript: `imapsession --replay` a crash report, or a",
        "rawlog), what you expected, and what happened instead.",
    ]
    return "\n".join(lines) + "\n"
