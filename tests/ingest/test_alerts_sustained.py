"""The sustained rule for continuous streams: durations, coverage, flags, and order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.reading import Kind
from ingest.alert import AlertCandidate, combine
from ingest.rules.settings import RuleSettings
from ingest.rules.sustained import Sample, sustained_candidates, window_around
from ingest.threshold import Severity, Threshold, ThresholdBook, ThresholdVersion

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
PATIENT = 7
RULES = RuleSettings()
# COPD-like: red below 88, yellow below 92 (92 is the top of the BTS target band).
LIMITS = Threshold(kind=Kind.SPO2, red_low=88.0, yellow_low=92.0)
BOOK = ThresholdBook.of(
    [ThresholdVersion(patient_id=PATIENT, threshold=LIMITS, valid_from=T0 - timedelta(days=1))]
)
NORMAL, YELLOW, RED = 95.0, 90.0, 85.0


def samples(
    values: Sequence[float | None],
    *,
    new: bool = True,
    unusable: set[int] = frozenset(),  # type: ignore[assignment]
    start: datetime = T0,
) -> list[Sample]:
    return [
        Sample(
            measured_at=start + timedelta(seconds=i),
            value=value,
            usable=value is not None and i not in unusable,
            received_at=start + timedelta(seconds=i + 1),
            new=new,
        )
        for i, value in enumerate(values)
    ]


def judge(
    found: list[Sample], book: ThresholdBook = BOOK, rules: RuleSettings = RULES
) -> list[AlertCandidate]:
    return sustained_candidates(PATIENT, Kind.SPO2, found, book, rules)


def test_a_single_sample_dip_never_raises():
    assert judge(samples([NORMAL] * 300 + [RED] + [NORMAL] * 300)) == []


def test_red_for_60_seconds_raises_red_and_counts_every_breaching_sample():
    [candidate] = judge(samples([NORMAL] * 10 + [RED] * 60 + [NORMAL] * 10))
    assert (candidate.condition, candidate.severity, candidate.count) == (
        "spo2_low",
        Severity.RED,
        60,
    )
    assert (candidate.first_at, candidate.last_at, candidate.worst_value) == (
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=69),
        RED,
    )
    assert candidate.thresholds is not None
    assert candidate.thresholds["red_low"] == 88.0


@pytest.mark.parametrize(
    ("breaching", "raised"),
    [
        pytest.param(53, False, id="53-of-60-seconds-is-below-90-percent"),
        pytest.param(54, True, id="54-of-60-seconds-is-90-percent"),
    ],
)
def test_red_needs_90_percent_of_a_60_second_span(breaching, raised):
    gaps = 60 - breaching
    # Breaching seconds with in-range seconds spread through one 60-second span.
    values = [NORMAL] * 100 + [RED] * breaching + [NORMAL] * 100
    span = values[100 : 100 + breaching]
    mixed = []
    for i, value in enumerate(span):
        mixed.append(value)
        if i < gaps:
            mixed.append(NORMAL)
    found = judge(samples([NORMAL] * 100 + mixed + [NORMAL] * 100))
    red = [c for c in found if c.severity is Severity.RED]
    assert bool(red) is raised


def test_missing_seconds_count_like_in_range_ones():
    values: list[float | None] = [RED] * 60
    for i in range(0, 60, 10):
        values[i] = None  # six absent samples: 54 of 60 left
    [candidate] = judge(samples(values))
    assert (candidate.severity, candidate.count) == (Severity.RED, 54)
    values[5] = None  # 53 of 60
    assert judge(samples(values)) == []


def test_yellow_needs_five_minutes_and_red_inside_it_only_60_seconds():
    assert judge(samples([YELLOW] * 269)) == []  # 269 of 300 s: just short of 90 %
    [yellow] = judge(samples([YELLOW] * 300))
    assert (yellow.severity, yellow.count, yellow.worst_value) == (Severity.YELLOW, 300, YELLOW)
    [red] = judge(samples([YELLOW] * 200 + [RED] * 60 + [YELLOW] * 40))
    assert (red.severity, red.count, red.worst_value) == (Severity.RED, 300, RED)


def test_flagged_samples_never_count():
    values = [RED] * 120
    assert judge(samples(values, unusable=set(range(0, 120, 2)))) == []
    assert judge(samples(values, unusable=set(range(120)))) == []


def test_old_samples_alone_raise_nothing_and_in_range_news_add_nothing():
    stored = samples([RED] * 120, new=False)
    assert judge(stored) == []
    later = samples([NORMAL] * 30, start=T0 + timedelta(seconds=120))
    assert judge(stored + later) == []


def test_new_samples_that_complete_a_span_count_the_stored_ones_too():
    stored = samples([RED] * 50, new=False)
    new = samples([RED] * 10, start=T0 + timedelta(seconds=50))
    [candidate] = judge(stored + new)
    assert (candidate.count, candidate.first_at) == (60, T0)


def test_each_sample_is_judged_by_the_thresholds_in_force_at_its_time():
    lowered = T0 + timedelta(seconds=30)
    book = ThresholdBook.of(
        [
            ThresholdVersion(patient_id=PATIENT, threshold=LIMITS, valid_from=T0 - timedelta(1)),
            ThresholdVersion(
                patient_id=PATIENT,
                threshold=Threshold(kind=Kind.SPO2, red_low=84.0),
                valid_from=lowered,
            ),
        ]
    )
    # 85 % is red before the change and in range after it: 30 s of red is not sustained.
    assert judge(samples([RED] * 90), book) == []


def test_a_stream_without_thresholds_raises_nothing():
    assert judge(samples([RED] * 120), ThresholdBook()) == []


def test_a_late_sample_marks_the_candidate_late():
    found = [
        replace(s, received_at=s.measured_at + timedelta(hours=3)) for s in samples([RED] * 60)
    ]
    [candidate] = judge(found)
    assert candidate.late


def test_the_window_reaches_two_spans_either_side():
    start, end = window_around([T0, T0 + timedelta(seconds=5)], RULES)
    margin = 2 * RULES.yellow_sustained + RULES.sample_interval
    assert (start, end) == (T0 - margin, T0 + timedelta(seconds=5) + margin)


# -- order and batch split do not matter -------------------------------------------------


# Short spans and a low coverage make the interesting overlaps of spans likely in small
# examples (with these, a window of one span either side instead of two miscounts).
SMALL = RuleSettings(
    red_sustained=timedelta(seconds=4), yellow_sustained=timedelta(seconds=8), min_coverage=0.6
)


def evaluate_in_batches(
    values: list[float | None], batches: list[list[int]], rules: RuleSettings = RULES
) -> tuple[tuple[object, ...], ...]:
    """Feed samples batch by batch as ingest would (stored ones seen, new ones marked)."""
    every = samples(values)
    stored: set[int] = set()
    candidates: list[AlertCandidate] = []
    for batch in batches:
        now = stored | set(batch)
        if not batch:
            continue
        start, end = window_around([every[i].measured_at for i in batch], rules)
        window = [
            replace(every[i], new=i in batch)
            for i in sorted(now)
            if start <= every[i].measured_at <= end
        ]
        candidates += judge(window, rules=rules)
        stored = now
    return tuple(
        (c.condition, c.severity, c.first_at, c.last_at, c.count, c.worst_value)
        for c in combine(candidates)
    )


levels = st.sampled_from([NORMAL, YELLOW, RED, None])
series = st.lists(levels, min_size=1, max_size=60).flatmap(
    lambda pattern: st.integers(min_value=1, max_value=40).map(
        lambda run: [value for value in pattern for _ in range(run)][:1500]
    )
)


@pytest.mark.parametrize(
    "rules", [pytest.param(RULES, id="defaults"), pytest.param(SMALL, id="short")]
)
@settings(max_examples=150, deadline=None)
@given(values=series, data=st.data())
def test_any_order_and_any_batch_split_yields_the_same_alerts(rules, values, data):
    indexes = list(range(len(values)))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(values) - 1, 1)), max_size=12)))
    if data.draw(st.booleans(), label="scattered"):
        # Samples in any order, cut into batches: every batch spans the whole series.
        order = data.draw(st.permutations(indexes))
        batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    else:
        # Time-contiguous batches arriving in any order, as outboxes replay them: each
        # evaluation sees only the window around its batch.
        chunks = [indexes[a:b] for a, b in zip([0, *cuts], [*cuts, len(indexes)], strict=True)]
        batches = data.draw(st.permutations(chunks))
    whole = evaluate_in_batches(values, [indexes], rules)
    assert evaluate_in_batches(values, batches, rules) == whole


@settings(max_examples=60, deadline=None)
@given(
    background=st.lists(st.sampled_from([NORMAL, YELLOW]), min_size=60, max_size=400),
    where=st.integers(min_value=0),
)
def test_a_single_red_dip_anywhere_never_makes_a_red_alert(background, where):
    values: list[float | None] = list(background)
    values[where % len(values)] = RED
    assert all(c.severity is not Severity.RED for c in judge(samples(values)))
