"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile).

``verify`` never raises for a wrong or malformed hash, and ``DUMMY_HASH`` lets a login
for an unknown user name spend the same time as one for a known name, so timing does
not tell which user names exist (OWASP Authentication Cheat Sheet).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from api.errors import InvalidError

# NIST SP 800-63B 5.1.1.2: memorized secrets of at least 8 characters; we ask 12 of
# people handling health data. The upper bound keeps hashing cheap for hostile input.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
DUMMY_HASH = _HASHER.hash("telecare: a password nobody has")


def check_password(password: str) -> None:
    """Reject passwords too short or too long to be set."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidError(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


def hash_password(password: str) -> str:
    """The Argon2id hash of an acceptable ``password`` (PHC string format)."""
    check_password(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an account without a hash never matches."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with older parameters and should be replaced."""
    return _HASHER.check_needs_rehash(password_hash)
