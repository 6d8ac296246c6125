"""Login rate limiting: failed attempts per user name and per client address.

A sliding window of failure times per key. A key that reached its limit is refused
(``RateLimitedError`` with the seconds until its oldest failure leaves the window)
before the password is even checked, so guessing costs the attacker time, not us
Argon2 work. A success clears the user name's failures. One limiter per api process:
with N worker processes an attacker gets N times the attempts, still bounded.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from api.errors import RateLimitedError

# An address may fail for several users (a ward's shared terminal), but not without bound.
ADDRESS_FACTOR = 4
# Keys remembered at most; the least recently failed are forgotten first, so a flood of
# random user names cannot grow memory without bound.
MAX_KEYS = 100_000


class LoginLimiter:
    """Counts failed logins per key within ``window`` seconds."""

    def __init__(
        self,
        *,
        attempts: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, *, username: str, address: str | None) -> None:
        """Refuse when the user name or the address used up its attempts."""
        now = self._clock()
        for key, limit in self._keys(username, address):
            failures = self._recent(key, now)
            if len(failures) >= limit:
                wait = math.ceil(failures[0] + self._window - now)
                raise RateLimitedError("too many failed logins; try again later", retry_after=wait)

    def failed(self, *, username: str, address: str | None) -> None:
        now = self._clock()
        for key, _ in self._keys(username, address):
            self._recent(key, now).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, *, username: str) -> None:
        self._failures.pop(_user_key(username), None)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(_user_key(username), self._attempts)]
        if address:
            keys.append((f"address:{address}", self._attempts * ADDRESS_FACTOR))
        return keys

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures


def _user_key(username: str) -> str:
    return f"user:{username.casefold()}"
