"""Alert candidates: validation, and merging that does not depend on order (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.reading import Kind
from ingest.alert import AlertCandidate, Audience, combine, missing_condition, threshold_condition
from ingest.threshold import Direction, Severity

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def candidate(**changes) -> AlertCandidate:
    fields = {
        "condition": "spo2_low",
        "audience": Audience.CLINICAL,
        "severity": Severity.YELLOW,
        "patient_id": 1,
        "kind": Kind.SPO2,
        "first_at": T0,
        "last_at": T0,
        "worst_value": 92.0,
        "direction": Direction.LOW,
    }
    return AlertCandidate(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"patient_id": None}, "concerns a patient", id="clinical-without-patient"),
        pytest.param(
            {"audience": Audience.TECHNICAL, "patient_id": None}, "subject", id="no-subject"
        ),
        pytest.param({"first_at": T0 + timedelta(1)}, "after", id="first-after-last"),
        pytest.param({"count": -1}, "negative", id="negative-count"),
        pytest.param({"direction": None}, "direction", id="worst-without-direction"),
        pytest.param({"condition": ""}, "empty", id="empty-condition"),
        pytest.param({"last_at": datetime(2026, 11, 2)}, "aware", id="naive-time"),
    ],
)
def test_a_candidate_is_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        candidate(**changes)


def test_condition_names():
    assert threshold_condition(Kind.SYSTOLIC, Direction.HIGH) == "systolic_high"
    assert missing_condition(Kind.SPO2) == "missing_spo2"


def test_combine_merges_one_key_as_the_store_does():
    red = candidate(
        severity=Severity.RED,
        worst_value=85.0,
        thresholds={"red_low": 88.0},
        first_at=T0 + timedelta(minutes=1),
        last_at=T0 + timedelta(minutes=1),
    )
    late = candidate(
        late=True, first_at=T0 - timedelta(minutes=5), last_at=T0 - timedelta(minutes=5)
    )
    other = candidate(patient_id=2)
    merged = combine([late, red, other, candidate()])
    assert len(merged) == 2
    mine = next(c for c in merged if c.patient_id == 1)
    assert (mine.severity, mine.count, mine.worst_value, mine.late) == (Severity.RED, 3, 85.0, True)
    assert (mine.first_at, mine.last_at) == (T0 - timedelta(minutes=5), T0 + timedelta(minutes=1))
    assert mine.thresholds == {"red_low": 88.0}


@st.composite
def candidates(draw) -> AlertCandidate:
    first = T0 + timedelta(minutes=draw(st.integers(0, 100)))
    return candidate(
        patient_id=draw(st.integers(1, 3)),
        severity=draw(st.sampled_from([Severity.YELLOW, Severity.RED])),
        first_at=first,
        last_at=first + timedelta(minutes=draw(st.integers(0, 5))),
        count=draw(st.integers(0, 5)),
        worst_value=draw(st.floats(70, 99)),
        late=draw(st.booleans()),
    )


@given(st.lists(candidates(), max_size=12), st.randoms())
def test_combine_is_the_same_in_any_order_and_grouping(found, random):
    shuffled = list(found)
    random.shuffle(shuffled)
    split = random.randint(0, len(shuffled))
    regrouped = combine([*combine(shuffled[:split]), *combine(shuffled[split:])])
    assert combine(found) == regrouped
