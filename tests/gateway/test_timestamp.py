"""Timestamps on the wire: the None-returning readers accept exactly what the converters do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.timestamp import (
    format_naive,
    format_utc,
    naive_or_none,
    naive_time,
    utc_or_none,
    utc_time,
)
from gateway.wire import ContractError


def converted(convert: Callable[[object], datetime], value: object) -> datetime | None:
    try:
        return convert(value)
    except ContractError:
        return None


# Right spellings, near misses (other separators, lengths, zones, scripts' digits,
# impossible dates) and anything at all.
instants = st.datetimes(timezones=st.just(UTC)).map(format_utc)
wall_clocks = st.datetimes().map(format_naive)
near_misses = st.builds(
    lambda text, at, char: text[:at] + char + text[at + 1 :],
    instants | wall_clocks,
    st.integers(0, 27),
    st.sampled_from(
        ["", " ", "T", "Z", "+", "-", ":", ".", ",", "0", "9", "٣", "z", "d", "1:", "\0"]
    ),
)
texts = instants | wall_clocks | near_misses | st.text(max_size=30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "2026-11-29T07:22:00.000000Z", datetime(2026, 11, 29, 7, 22, tzinfo=UTC), id="instant"
        ),
        pytest.param("2026-11-29T07:22:00Z", None, id="no-fraction"),
        pytest.param("2026-11-29 07:22:00.000000Z", None, id="space"),
        pytest.param("2026-11-29T07:22:00.000000+00:00", None, id="offset"),
        pytest.param("2026-02-30T07:22:00.000000Z", None, id="no-such-day"),
        pytest.param("2026-11-29T07:22:00.000000Z ", None, id="trailing-space"),
        pytest.param("2026-11-29T07:22:00.00000dZ", None, id="letter-d-for-a-digit"),
        pytest.param("\uff12026-11-29T07:22:00.000000Z", None, id="fullwidth-digit"),
    ],
)
def test_utc_or_none(text, expected):
    assert utc_or_none(text) == expected


@given(texts | st.integers() | st.none())
def test_utc_or_none_accepts_what_utc_time_accepts(value):
    assert utc_or_none(value) == converted(utc_time, value)


@given(texts | st.integers() | st.none())
def test_naive_or_none_accepts_what_naive_time_accepts(value):
    assert naive_or_none(value) == converted(naive_time, value)
