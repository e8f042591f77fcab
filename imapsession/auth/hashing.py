"""Making a stored password hash for the passwd-file, in Dovecot's ``{SCHEME}hash`` form.

The counterpart of ``verify.py``: each scheme through the same library that
verifies it, so a hash made here is checked there (``make`` does so before it
returns). The strongest scheme whose library is installed is the default.
"""

from __future__ import annotations

from imapsession.auth import verify

PREFERENCE = ("ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT")  # strongest first
BCRYPT_COST = 12


class NoScheme(RuntimeError):
    """No library for a strong scheme is installed (the ``login`` extras)."""


def _argon2id(password: bytes) -> str:
    from argon2 import PasswordHasher

    # RFC 9106's second recommended option (64 MiB, t=3), one lane as doveadm pw
    # writes it: Dovecot verifies through libsodium, which is made for p=1
    return PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1).hash(password)


def _bcrypt(password: bytes) -> str:
    import bcrypt

    # verify.py, like crypt_blowfish, uses the first 72 octets; $2y$ is what doveadm
    # writes ($2b$ is the same algorithm, older Dovecot does not know the name)
    made = bcrypt.hashpw(password[:72], bcrypt.gensalt(BCRYPT_COST)).decode("ascii")
    return "$2y$" + made[4:] if made.startswith("$2b$") else made


def _sha512_crypt(password: bytes) -> str:
    from passlib.hash import sha512_crypt

    return sha512_crypt.hash(password)


MAKERS = {"ARGON2ID": _argon2id, "BLF-CRYPT": _bcrypt, "SHA512-CRYPT": _sha512_crypt}
_MODULES = {"ARGON2ID": "argon2", "BLF-CRYPT": "bcrypt", "SHA512-CRYPT": "passlib.hash"}


def available(scheme: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(_MODULES[scheme]) is not None
    except ModuleNotFoundError:  # the parent package of passlib.hash is missing
        return False


def best_scheme() -> str:
    for scheme in PREFERENCE:
        if available(scheme):
            return scheme
    raise NoScheme("no password hashing library is installed: "
                   "pip install argon2-cffi (or bcrypt, or libpass)")


def make(password: bytes, scheme: str | None = None) -> str:
    """``{SCHEME}hash`` of ``password``, checked by ``verify.verify`` before it is returned."""
    scheme = scheme or best_scheme()
    if scheme not in MAKERS:
        raise NoScheme(f"unknown scheme {scheme!r} (one of {', '.join(PREFERENCE)})")
    if not available(scheme):
        raise NoScheme(f"{scheme} needs {_MODULES[scheme].split('.')[0]}, which is not installed")
    stored = "{" + scheme + "}" + MAKERS[scheme](password)
    if not verify.verify(stored, password):
        raise NoScheme(f"{scheme}: the hash just made does not verify")
    return stored
