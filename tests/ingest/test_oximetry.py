"""The night summary against hand-computed series (ingest/oximetry.py has the definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.oximetry import Channel, NightSummary, baseline, desaturation_events, summarize

EPOCH = 1_793_660_400.0  # 2026-11-02 21:00 UTC: any origin will do


def channel(values: list[float], *, unusable: set[int] = frozenset()) -> Channel:  # type: ignore[assignment]
    return Channel(
        EPOCH + np.arange(len(values), dtype=np.float64),
        np.array(values, dtype=np.float64),
        np.array([i not in unusable for i in range(len(values))]),
    )


def test_one_four_point_drop_for_20_seconds():
    values = [95.0] * 600 + [90.0] * 20 + [95.0] * 600
    # 90 % is not below 90 %; one event in 1220 s of valid time.
    mean, odi = (95 * 1200 + 90 * 20) / 1220, 3600 / 1220
    assert summarize(channel(values)) == NightSummary(
        recording_seconds=1220.0,
        valid_seconds=1220.0,
        samples=1220,
        flagged_share=0.0,
        spo2_mean=pytest.approx(mean),  # type: ignore[arg-type]  # approx compares equal
        spo2_min=90.0,
        t90_seconds=0.0,
        t88_seconds=0.0,
        odi3=pytest.approx(odi),  # type: ignore[arg-type]
        odi4=pytest.approx(odi),  # type: ignore[arg-type]
        pulse_mean=None,
        pulse_min=None,
        pulse_max=None,
    )


@pytest.mark.parametrize(
    ("dip", "seconds", "events3", "events4"),
    [
        pytest.param(92.0, 20, 1, 0, id="three-point-drop-counts-for-odi3-only"),
        pytest.param(91.0, 20, 1, 1, id="four-point-drop-counts-for-both"),
        pytest.param(93.0, 20, 0, 0, id="two-point-drop-is-no-event"),
        pytest.param(90.0, 9, 0, 0, id="nine-seconds-is-too-short"),
        pytest.param(90.0, 10, 1, 1, id="ten-seconds-is-an-event"),
        pytest.param(90.0, 59, 1, 1, id="a-minute-long-drop-is-one-event"),
    ],
)
def test_desaturation_events(dip, seconds, events3, events4):
    grid = np.array([95.0] * 300 + [dip] * seconds + [95.0] * 300)
    assert (desaturation_events(grid, 3.0), desaturation_events(grid, 4.0)) == (events3, events4)


def test_two_separate_drops_are_two_events():
    grid = np.array(([95.0] * 300 + [90.0] * 15) * 2 + [95.0] * 100)
    assert desaturation_events(grid, 3.0) == 2


def test_a_gap_splits_a_drop_and_short_halves_do_not_count():
    grid = np.array([95.0] * 300 + [90.0] * 9 + [np.nan] + [90.0] * 9 + [95.0] * 300)
    assert desaturation_events(grid, 3.0) == 0


def test_no_baseline_without_a_minute_of_samples_before():
    # Seconds 55-68 are low, but only 60-68 have a baseline: nine seconds, no event.
    grid = np.array([95.0] * 55 + [85.0] * 14 + [95.0] * 300)
    assert np.isnan(baseline(grid)[59])
    assert baseline(grid)[60] == 95.0
    assert desaturation_events(grid, 3.0) == 0
    assert baseline(np.array([95.0] * 60 + [85.0]))[60] == 95.0


@pytest.mark.parametrize(
    ("level", "t90", "t88"),
    [
        pytest.param(89.0, 30.0, 0.0, id="89-counts-for-t90"),
        pytest.param(88.0, 30.0, 0.0, id="88-is-not-below-88"),
        pytest.param(87.0, 30.0, 30.0, id="87-counts-for-both"),
    ],
)
def test_time_below_90_and_88(level, t90, t88):
    summary = summarize(channel([95.0] * 100 + [level] * 30 + [95.0] * 100))
    assert (summary.t90_seconds, summary.t88_seconds) == (t90, t88)


def test_flagged_samples_count_as_data_quality_not_as_values():
    values = [95.0] * 50 + [70.0] * 50
    summary = summarize(channel(values, unusable=set(range(50, 100))))
    assert (summary.samples, summary.flagged_share, summary.valid_seconds) == (100, 0.5, 50.0)
    assert (summary.spo2_min, summary.t90_seconds, summary.recording_seconds) == (95.0, 0.0, 100.0)


def test_pulse_statistics_and_an_empty_night():
    pulse = channel([60.0, 70.0, 80.0, 200.0], unusable={3})
    summary = summarize(channel([95.0] * 4), pulse)
    assert (summary.pulse_mean, summary.pulse_min, summary.pulse_max) == (70.0, 60.0, 80.0)
    empty = summarize(Channel.empty())
    assert (empty.samples, empty.valid_seconds, empty.odi3, empty.spo2_mean) == (0, 0.0, None, None)


def test_two_samples_in_one_second_are_averaged():
    spo2 = Channel(
        np.array([0.0, 0.5, 1.0]), np.array([94.0, 96.0, 95.0]), np.ones(3, dtype=np.bool_)
    )
    summary = summarize(spo2)
    assert (summary.valid_seconds, summary.spo2_mean, summary.samples) == (2.0, 95.0, 3)


@given(st.floats(70, 100), st.integers(1, 2000))
def test_a_flat_night_has_no_events(level, seconds):
    summary = summarize(channel([level] * seconds))
    assert summary.odi3 == summary.odi4 == 0.0
    assert summary.t90_seconds == (seconds if level < 90 else 0)
