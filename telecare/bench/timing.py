"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Seconds per call: the median and the spread over repeated rounds."""

    median: float
    low: float
    high: float


def time_per_call(work: Callable[[], object], *, rounds: int = 7, budget_s: float = 0.2) -> Timing:
    """Time ``work`` in ``rounds`` rounds of as many calls as fit ``budget_s``."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            work()
        if time.perf_counter() - start >= budget_s / 10 or calls >= 1 << 20:
            break
        calls *= 2
    per_round = max(1, int(calls * budget_s / max(time.perf_counter() - start, 1e-9)))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            work()
        samples.append((time.perf_counter() - start) / per_round)
    return Timing(median=statistics.median(samples), low=min(samples), high=max(samples))
