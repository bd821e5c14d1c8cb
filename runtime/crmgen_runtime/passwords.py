"""Passwords: the rules a new one must meet, and its argon2id hash.

``hasher`` is argon2id with the library's defaults (RFC 9106 low-memory profile). It is the one
setting of this module and the same for every app: tests swap it for a cheap one
(``monkeypatch.setattr(passwords, "hasher", ...)``) and the code here reads it on each call.
Checking a password costs one argon2 verification whatever is stored (nothing, or a hash this
hasher cannot read), so the time of an answer never tells whether an account exists.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
ARGON2_VERSION = 19  # the ``v=`` of an argon2 hash string (version 1.3)

hasher = PasswordHasher()


def password_problem(password: object) -> str | None:
    """Why ``password`` is not acceptable, or None when it is."""
    if not isinstance(password, str) or not password:
        return "A password is required."
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"The password must have at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"The password must have at most {PASSWORD_MAX_LENGTH} characters."
    return None


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return hasher.hash(password)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than ``hasher``'s (hash it anew)."""
    return hasher.check_needs_rehash(stored)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the ``stored`` hash; one argon2 verification whatever
    ``stored`` is (a missing or unreadable hash: against a dummy one, False)."""
    if not stored:
        return _dummy_verify(password)
    try:
        return hasher.verify(stored, password)
    except InvalidHashError:
        return _dummy_verify(password)
    except VerificationError:
        return False


@functools.cache
def _dummy_hash(of: PasswordHasher) -> str:
    """A hash in the format and at the cost of the hasher ``of`` that no password matches:
    random bytes, not computed, so even the first use costs only the verification."""
    salt, digest = (
        base64.b64encode(secrets.token_bytes(size)).decode("ascii").rstrip("=")
        for size in (of.salt_len, of.hash_len)
    )
    cost = f"m={of.memory_cost},t={of.time_cost},p={of.parallelism}"
    return f"$argon2{of.type.name.lower()}$v={ARGON2_VERSION}${cost}${salt}${digest}"


def _dummy_verify(password: str) -> bool:
    """Spend the time a real check takes (an unknown e-mail cannot be told by timing); False."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash(hasher), password)
    return False
