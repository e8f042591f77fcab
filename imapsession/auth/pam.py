"""System users through PAM (python-pam), service name ``imapsession``.

PAM is asked only when the passwd-file does not know the user (or there is no
passwd-file). Its modules (pam_unix) do their own work for unknown users.
"""

from __future__ import annotations

import pwd

SERVICE = "imapsession"


class PamUnavailable(RuntimeError):
    """python-pam is not installed."""


def authenticate(user: str, password: bytes) -> pwd.struct_passwd | None:
    """The user's passwd entry when PAM accepts the password, else None."""
    try:
        import pam
    except ImportError:
        raise PamUnavailable("python-pam is not installed (pip install python-pam)") from None
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not pam.authenticate(user, text, service=SERVICE):
        return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None
