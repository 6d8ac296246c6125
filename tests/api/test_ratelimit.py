"""Login rate limiting with a fake clock."""

from __future__ import annotations

import pytest

from api.errors import RateLimitedError
from api.ratelimit import ADDRESS_FACTOR, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_refuses_until_the_oldest_failure_leaves_the_window():
    clock = Clock()
    limiter = LoginLimiter(attempts=3, window=60, clock=clock)
    for _ in range(3):
        limiter.check(username="Nurse", address=None)
        limiter.failed(username="Nurse", address=None)
        clock.now += 10
    # Failures at 1000, 1010, 1020; now 1030: the first leaves the window at 1060.
    with pytest.raises(RateLimitedError) as refused:
        limiter.check(username="nurse", address=None)
    assert refused.value.retry_after == 30
    clock.now = 1060.0
    limiter.check(username="NURSE", address=None)


def test_success_clears_the_user_but_not_the_address():
    clock = Clock()
    limiter = LoginLimiter(attempts=2, window=60, clock=clock)
    for name in ("a", "b", "c", "d", "e", "f", "g", "h"):
        limiter.failed(username=name, address="10.0.0.1")
    with pytest.raises(RateLimitedError):
        limiter.check(username="new", address="10.0.0.1")
    assert ADDRESS_FACTOR * 2 == 8
    limiter.check(username="new", address="10.0.0.2")
    limiter.failed(username="x", address=None)
    limiter.failed(username="x", address=None)
    with pytest.raises(RateLimitedError):
        limiter.check(username="x", address=None)
    limiter.succeeded(username="x")
    limiter.check(username="x", address=None)
