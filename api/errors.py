"""Errors raised by the api package; ``api.problem`` maps each to an HTTP status.

ApiError(Exception)
 ├── AuthenticationError   no, expired, malformed or wrongly signed credentials (401)
 ├── ForbiddenError        authenticated, but the role may not do this at all (403)
 ├── NotFoundError         no such object, or one the caller may not see (404): foreign
 │                         objects are indistinguishable from missing ones (OWASP API1)
 ├── ConflictError         the object's state forbids the change (409): a lifecycle
 │                         transition that is not allowed, a taken name, an overlap
 ├── InvalidError          well-formed but unacceptable values (422)
 ├── RateLimitedError      too many attempts; ``retry_after`` seconds (429)
 └── UnavailableError      the database or the broker cannot be reached (503)
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class of every error the api raises on purpose; ``detail`` is safe to show."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class AuthenticationError(ApiError):
    """The request carries no valid credentials."""


class ForbiddenError(ApiError):
    """The caller's role may not use this function."""


class NotFoundError(ApiError):
    """The object does not exist or is not the caller's to see."""


class ConflictError(ApiError):
    """The change conflicts with the object's current state."""


class InvalidError(ApiError):
    """A value is out of range or inconsistent."""


class RateLimitedError(ApiError):
    """Too many attempts; try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UnavailableError(ApiError):
    """A service the api depends on is down."""
