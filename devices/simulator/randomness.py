"""Seeded draws that stay the same across Python versions.

The ``random`` documentation guarantees only that ``Random.random()`` gives the same
sequence for the same seed in future versions (a text seed is hashed with SHA-512, so it
does not depend on ``PYTHONHASHSEED``); ``gauss``, ``randint`` and ``randbytes`` may
change. So every draw the simulators make goes through ``random()`` here, and the same
seed keeps giving the same bytes after an interpreter upgrade.
"""

from __future__ import annotations

import math
import random


def seeded(key: str) -> random.Random:
    """A generator for one named stream, e.g. ``"7/spo2/1234"``."""
    return random.Random(key)


def whole(rng: random.Random, low: int, high: int) -> int:
    """A whole number in ``low..high``, both included."""
    return low + min(high - low, math.floor(rng.random() * (high - low + 1)))


def standard_normal(rng: random.Random) -> float:
    """One standard normal draw (Box-Muller from two uniform draws)."""
    u1, u2 = rng.random(), rng.random()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2 * math.pi * u2)
