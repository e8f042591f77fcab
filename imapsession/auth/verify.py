"""Checking a password against a stored ``{SCHEME}hash``, in constant time.

Each scheme is delegated to a maintained library (argon2-cffi, bcrypt, libpass),
imported only when that scheme is met: the root process imports nothing it does
not need.
"""

from __future__ import annotations

import hashlib
import hmac

# hashes written without a {SCHEME} prefix: recognised by their crypt(3) prefix
_CRYPT_PREFIXES = (
    ("$argon2id$", "ARGON2ID"), ("$argon2i$", "ARGON2I"),
    ("$2y$", "BLF-CRYPT"), ("$2b$", "BLF-CRYPT"), ("$2a$", "BLF-CRYPT"),
    ("$6$", "SHA512-CRYPT"), ("$5$", "SHA256-CRYPT"),
)


class UnsupportedScheme(ValueError):
    """The stored hash uses a scheme we do not verify."""


def split(stored: str) -> tuple[str, str]:
    """("SCHEME", "hash") of a passwd-file password field."""
    if stored.startswith("{") and "}" in stored:
        scheme, _, value = stored[1:].partition("}")
        return scheme.upper(), value
    for prefix, scheme in _CRYPT_PREFIXES:
        if stored.startswith(prefix):
            return scheme, stored
    return "CRYPT", stored


def scheme_of(stored: str) -> str:
    return split(stored)[0]


def _argon2(value: str, password: bytes) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return PasswordHasher().verify(value, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _bcrypt(value: str, password: bytes) -> bool:
    import bcrypt

    # crypt_blowfish (Dovecot, doveadm pw) uses the first 72 octets only
    try:
        return bcrypt.checkpw(password[:72], value.encode("ascii"))
    except ValueError:
        return False


def _passlib(name: str):
    def check(value: str, password: bytes) -> bool:
        from passlib import hash as passlib_hash

        try:
            return bool(getattr(passlib_hash, name).verify(password, value))
        except ValueError:
            return False

    return check


def _plain(value: str, password: bytes) -> bool:
    # digests first, so the comparison's time does not depend on either length
    stored = hashlib.sha256(value.encode("utf-8")).digest()
    given = hashlib.sha256(password).digest()
    return hmac.compare_digest(stored, given)


SCHEMES = {
    "ARGON2ID": _argon2,
    "ARGON2I": _argon2,
    "BLF-CRYPT": _bcrypt,
    "SHA512-CRYPT": _passlib("sha512_crypt"),
    "SHA256-CRYPT": _passlib("sha256_crypt"),
    "PLAIN": _plain,
    "CLEAR": _plain,
}


def verify(stored: str, password: bytes) -> bool:
    """True when ``password`` matches; raises UnsupportedScheme for unknown schemes."""
    scheme, value = split(stored)
    check = SCHEMES.get(scheme)
    if check is None:
        raise UnsupportedScheme(scheme)
    return check(value, password)
