"""Backoff: doubling from the first delay, capped, jittered within its bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.backoff import Backoff


def test_doubles_up_to_the_cap_without_jitter():
    backoff = Backoff(initial=0.5, maximum=5.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


@given(attempt=st.integers(0, 10_000), seed=st.integers())
def test_jitter_stays_within_its_share_and_the_cap(attempt, seed):
    backoff = Backoff(initial=1.0, maximum=60.0, jitter=0.1)
    delay = backoff.delay(attempt, rng=random.Random(seed))
    base = min(60.0, 2.0 ** min(attempt, 64))
    assert 0.9 * base <= delay <= min(60.0, 1.1 * base)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"initial": 0.0, "maximum": 1.0}, "initial"),
        ({"initial": 2.0, "maximum": 1.0}, "initial"),
        ({"initial": 1.0, "maximum": 2.0, "factor": 0.5}, "factor"),
        ({"initial": 1.0, "maximum": 2.0, "jitter": 1.0}, "jitter"),
    ],
    ids=["zero", "initial-above-maximum", "shrinking", "jitter"],
)
def test_nonsense_is_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        Backoff(**bad)
