"""Thresholds: ordering, judging at the limits, and which version is in force when."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.reading import Kind
from ingest.threshold import (
    Breach,
    Direction,
    Severity,
    Threshold,
    ThresholdBook,
    ThresholdVersion,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FULL = Threshold(kind=Kind.SYSTOLIC, red_low=91, yellow_low=100, yellow_high=160, red_high=180)


@pytest.mark.parametrize(
    ("threshold", "value", "expected"),
    [
        pytest.param(FULL, 120.0, None, id="inside"),
        pytest.param(FULL, 160.0, None, id="equal-to-yellow-high-is-inside"),
        pytest.param(
            FULL, 160.1, Breach(severity=Severity.YELLOW, direction=Direction.HIGH, limit=160),
            id="just-above-yellow-high",
        ),
        pytest.param(
            FULL, 180.0, Breach(severity=Severity.YELLOW, direction=Direction.HIGH, limit=160),
            id="equal-to-red-high-is-yellow",
        ),
        pytest.param(
            FULL, 181.0, Breach(severity=Severity.RED, direction=Direction.HIGH, limit=180),
            id="above-red-high",
        ),
        pytest.param(FULL, 100.0, None, id="equal-to-yellow-low-is-inside"),
        pytest.param(
            FULL, 99.9, Breach(severity=Severity.YELLOW, direction=Direction.LOW, limit=100),
            id="just-below-yellow-low",
        ),
        pytest.param(
            FULL, 91.0, Breach(severity=Severity.YELLOW, direction=Direction.LOW, limit=100),
            id="equal-to-red-low-is-yellow",
        ),
        pytest.param(
            FULL, 90.0, Breach(severity=Severity.RED, direction=Direction.LOW, limit=91),
            id="below-red-low",
        ),
        pytest.param(
            Threshold(kind=Kind.SPO2, red_low=88.0), 87.9,
            Breach(severity=Severity.RED, direction=Direction.LOW, limit=88.0),
            id="only-red-low-present",
        ),
        pytest.param(Threshold(kind=Kind.SPO2, red_low=88.0), 100.0, None, id="absent-highs"),
        pytest.param(
            Threshold(kind=Kind.PULSE_RATE, yellow_high=100.0), 250.0,
            Breach(severity=Severity.YELLOW, direction=Direction.HIGH, limit=100.0),
            id="no-red-means-yellow-however-far",
        ),
        pytest.param(Threshold(kind=Kind.SPO2), 10.0, None, id="no-limits-at-all"),
        pytest.param(FULL, math.nan, None, id="nan-never-breaches"),
        pytest.param(FULL, math.inf, None, id="infinity-never-breaches"),
        pytest.param(FULL, -math.inf, None, id="minus-infinity-never-breaches"),
    ],
)  # fmt: skip
def test_judge(threshold, value, expected):
    assert threshold.judge(value) == expected


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({"red_low": 100, "yellow_low": 100}, id="equal-limits"),
        pytest.param({"yellow_low": 120, "yellow_high": 110}, id="yellow-crossed"),
        pytest.param({"red_low": 95, "red_high": 90}, id="reds-crossed-yellows-absent"),
        pytest.param({"yellow_high": 180, "red_high": 160}, id="red-inside-yellow"),
        pytest.param({"red_low": math.nan}, id="nan-limit"),
        pytest.param({"red_high": math.inf}, id="infinite-limit"),
    ],
)
def test_limits_must_rise_strictly_and_be_finite(limits):
    with pytest.raises(ValueError, match=r"limits must rise|finite"):
        Threshold(kind=Kind.SYSTOLIC, **limits)


limit = st.none() | st.floats(min_value=-1000, max_value=1000, allow_nan=False)


@given(st.tuples(limit, limit, limit, limit), st.floats(-2000, 2000, allow_nan=False))
def test_a_valid_threshold_is_ordered_and_judges_by_the_outermost_limit(limits, value):
    names = ("red_low", "yellow_low", "yellow_high", "red_high")
    present = [v for v in limits if v is not None]
    ordered = all(a < b for a, b in pairwise(present))
    if not ordered:
        with pytest.raises(ValueError, match="limits must rise"):
            Threshold(kind=Kind.SPO2, **dict(zip(names, limits, strict=True)))
        return
    threshold = Threshold(kind=Kind.SPO2, **dict(zip(names, limits, strict=True)))
    breach = threshold.judge(value)
    red_low, yellow_low, yellow_high, red_high = limits
    if (red_low is not None and value < red_low) or (red_high is not None and value > red_high):
        assert breach is not None
        assert breach.severity is Severity.RED
    elif (yellow_low is not None and value < yellow_low) or (
        yellow_high is not None and value > yellow_high
    ):
        assert breach is not None
        assert breach.severity is Severity.YELLOW
    else:
        assert breach is None


def version(valid_from: datetime, red_low: float, *, history_id: int = 1) -> ThresholdVersion:
    return ThresholdVersion(
        patient_id=1,
        threshold=Threshold(kind=Kind.SPO2, red_low=red_low),
        valid_from=valid_from,
        history_id=history_id,
    )


def test_the_version_in_force_is_the_latest_from_before():
    first, second = (
        version(T0, 88.0, history_id=1),
        version(T0 + timedelta(days=1), 90.0, history_id=2),
    )
    book = ThresholdBook.of([second, first])
    assert book.in_force(1, Kind.SPO2, T0 - timedelta(seconds=1)) is None
    assert book.in_force(1, Kind.SPO2, T0) == first
    assert book.in_force(1, Kind.SPO2, T0 + timedelta(days=1) - timedelta(seconds=1)) == first
    assert book.in_force(1, Kind.SPO2, T0 + timedelta(days=1)) == second
    assert book.in_force(1, Kind.PULSE_RATE, T0 + timedelta(days=2)) is None
    assert book.in_force(2, Kind.SPO2, T0 + timedelta(days=2)) is None


def test_two_changes_in_one_instant_the_later_row_wins():
    book = ThresholdBook.of([version(T0, 90.0, history_id=9), version(T0, 88.0, history_id=3)])
    found = book.in_force(1, Kind.SPO2, T0)
    assert found is not None
    assert found.threshold.red_low == 90.0


def test_a_snapshot_is_the_history_row_as_json():
    snapshot = version(T0, 88.0, history_id=4).snapshot()
    assert snapshot == {
        "history_id": 4,
        "kind": "spo2",
        "red_low": 88.0,
        "yellow_low": None,
        "yellow_high": None,
        "red_high": None,
        "program": None,
        "changed_by": None,
        "valid_from": "2026-11-02T08:00:00+00:00",
    }


def test_severity_ranks_blue_below_yellow_below_red():
    assert Severity.BLUE.rank < Severity.YELLOW.rank < Severity.RED.rank
