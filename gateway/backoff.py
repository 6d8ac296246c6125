"""Exponential backoff with jitter, for reconnecting devices and resending batches.

The delay doubles per failed attempt from ``initial`` up to ``maximum``; a random
jitter of +/- ``jitter`` of it keeps a fleet of gateways that lost the broker together
from coming back in lockstep (AWS Architecture Blog, "Exponential Backoff And Jitter").
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    initial: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {self.initial}, {self.maximum}")
        if self.factor < 1:
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` failures so far)."""
        if attempt < 0:
            raise ValueError(f"attempt must not be negative, got {attempt}")
        # Capped exponent: a long outage must not overflow a float.
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return min(self.maximum, base * (1 + spread))
