"""Plausibility rules: each rule at its edges, measurements judged together, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.reading import KIND_CODES, AbsentReason, Kind, Reading
from ingest.plausibility import (
    DEFAULT_SKEW,
    FUTURE_REASON,
    MEASUREMENT_RULES,
    READING_RULES,
    Quarantined,
    QuarantineReason,
    check,
)

NOW = datetime(2026, 11, 29, 7, 22, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=10)


def reading(
    kind: Kind,
    value: float | None,
    *,
    at: datetime = EARLIER,
    device: str = "cuff-1",
    user: int | None = None,
    absent: AbsentReason | None = None,
) -> Reading:
    return Reading(
        device_id=device,
        kind=kind,
        value=value,
        unit=KIND_CODES[kind].unit,
        measured_at=at,
        absent_reason=absent,
        user_id=user,
    )


def blood_pressure(
    systolic: float, diastolic: float, mean: float, pulse: float
) -> tuple[Reading, ...]:
    return (
        reading(Kind.SYSTOLIC, systolic),
        reading(Kind.DIASTOLIC, diastolic),
        reading(Kind.MEAN_ARTERIAL_PRESSURE, mean),
        reading(Kind.PULSE_RATE, pulse),
    )


@pytest.mark.parametrize(
    ("given_reading", "reason"),
    [
        pytest.param(reading(Kind.SPO2, 100.0), None, id="spo2-100-is-fine"),
        pytest.param(reading(Kind.SPO2, 100.1), QuarantineReason.SPO2_ABOVE_100, id="spo2-100.1"),
        pytest.param(reading(Kind.SPO2, 0.0), None, id="spo2-0-is-not-negative"),
        pytest.param(reading(Kind.PULSE_RATE, 20.0), None, id="pulse-20-is-fine"),
        pytest.param(
            reading(Kind.PULSE_RATE, 19.9), QuarantineReason.PULSE_OUT_OF_RANGE, id="pulse-19.9"
        ),
        pytest.param(reading(Kind.PULSE_RATE, 300.0), None, id="pulse-300-is-fine"),
        pytest.param(
            reading(Kind.PULSE_RATE, 300.5), QuarantineReason.PULSE_OUT_OF_RANGE, id="pulse-300.5"
        ),
        pytest.param(
            reading(Kind.PERFUSION_INDEX, -0.1),
            QuarantineReason.NEGATIVE_VALUE,
            id="negative-perfusion-index",
        ),
        pytest.param(
            reading(Kind.PULSE_RATE, -5.0),
            QuarantineReason.NEGATIVE_VALUE,
            id="negative-wins-over-range-by-table-order",
        ),
        pytest.param(
            reading(Kind.SPO2, 97.0, at=NOW + DEFAULT_SKEW), None, id="future-within-skew"
        ),
        pytest.param(
            reading(Kind.SPO2, 97.0, at=NOW + DEFAULT_SKEW + timedelta(microseconds=1)),
            QuarantineReason.MEASURED_IN_FUTURE,
            id="future-beyond-skew",
        ),
        pytest.param(
            reading(Kind.SPO2, 104.0, at=NOW + timedelta(days=1)),
            QuarantineReason.MEASURED_IN_FUTURE,
            id="future-reported-first",
        ),
        pytest.param(
            reading(Kind.SPO2, None, absent=AbsentReason.NOT_A_NUMBER), None, id="absent-value"
        ),
        pytest.param(
            reading(Kind.SPO2, None, absent=AbsentReason.NOT_A_NUMBER, at=NOW + timedelta(hours=1)),
            QuarantineReason.MEASURED_IN_FUTURE,
            id="absent-value-in-future",
        ),
    ],
)
def test_single_reading_rules(given_reading, reason):
    accepted, quarantined = check([given_reading], now=NOW)
    if reason is None:
        assert (accepted, quarantined) == ((given_reading,), ())
    else:
        assert (accepted, quarantined) == ((), (Quarantined(reading=given_reading, reason=reason),))


def test_the_skew_tolerance_is_a_parameter():
    late_clock = reading(Kind.SPO2, 97.0, at=NOW + timedelta(minutes=2))
    assert check([late_clock], now=NOW, skew=timedelta(minutes=5)) == ((late_clock,), ())
    assert check([late_clock], now=NOW, skew=timedelta(minutes=1)) == (
        (),
        (Quarantined(reading=late_clock, reason=QuarantineReason.MEASURED_IN_FUTURE),),
    )


@pytest.mark.parametrize(
    ("systolic", "diastolic"),
    [pytest.param(80.0, 90.0, id="below"), pytest.param(85.0, 85.0, id="equal")],
)
def test_systolic_not_above_diastolic_quarantines_the_pressures_but_not_the_pulse(
    systolic, diastolic
):
    sys_, dia, mean, pulse = blood_pressure(systolic, diastolic, 87.0, 72.0)
    reason = QuarantineReason.SYSTOLIC_NOT_ABOVE_DIASTOLIC
    assert check([sys_, dia, mean, pulse], now=NOW) == (
        (pulse,),
        (
            Quarantined(reading=sys_, reason=reason),
            Quarantined(reading=dia, reason=reason),
            Quarantined(reading=mean, reason=reason),
        ),
    )


def test_a_plausible_blood_pressure_measurement_is_accepted_whole():
    measurement = blood_pressure(128.0, 82.0, 97.0, 64.0)
    assert check(measurement, now=NOW) == (measurement, ())


def test_only_readings_of_one_measurement_are_compared():
    # Same device, but another instant or another user slot: not one measurement.
    systolic = reading(Kind.SYSTOLIC, 80.0)
    other_time = reading(Kind.DIASTOLIC, 90.0, at=EARLIER + timedelta(seconds=1))
    other_user = reading(Kind.DIASTOLIC, 90.0, user=2)
    other_device = reading(Kind.DIASTOLIC, 90.0, device="cuff-2")
    given_readings = (systolic, other_time, other_user, other_device)
    assert check(given_readings, now=NOW) == (given_readings, ())


def test_an_absent_diastolic_leaves_the_systolic_unjudged():
    systolic = reading(Kind.SYSTOLIC, 80.0)
    diastolic = reading(Kind.DIASTOLIC, None, absent=AbsentReason.NOT_A_NUMBER)
    assert check([systolic, diastolic], now=NOW) == ((systolic, diastolic), ())


def test_a_reading_quarantined_alone_is_not_judged_again_with_its_measurement():
    # A negative diastolic is quarantined as negative; the systolic then has no partner.
    systolic = reading(Kind.SYSTOLIC, 120.0)
    diastolic = reading(Kind.DIASTOLIC, -1.0)
    assert check([systolic, diastolic], now=NOW) == (
        (systolic,),
        (Quarantined(reading=diastolic, reason=QuarantineReason.NEGATIVE_VALUE),),
    )


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        check([], now=datetime(2026, 11, 29, 7, 22))


def test_every_reason_has_a_rule():
    reasons = {rule.reason for rule in READING_RULES} | {r.reason for r in MEASUREMENT_RULES}
    assert reasons | {FUTURE_REASON} == set(QuarantineReason)


readings_strategy = st.builds(
    reading,
    kind=st.sampled_from(list(Kind)),
    value=st.floats(min_value=-50, max_value=400, allow_nan=False),
    at=st.sampled_from([EARLIER, NOW, NOW + timedelta(hours=1)]),
    user=st.sampled_from([None, 1]),
)


@given(st.lists(readings_strategy, max_size=30))
def test_check_partitions_its_input_in_order(readings):
    accepted, quarantined = check(readings, now=NOW)
    position = {id(r): i for i, r in enumerate(readings)}
    accepted_at = [position[id(r)] for r in accepted]
    rejected_at = [position[id(q.reading)] for q in quarantined]
    # Each output keeps input order, and together they hold every input exactly once.
    assert accepted_at == sorted(accepted_at)
    assert rejected_at == sorted(rejected_at)
    assert sorted(accepted_at + rejected_at) == list(range(len(readings)))


@given(st.lists(readings_strategy, max_size=30))
def test_accepted_readings_pass_again(readings):
    accepted, _ = check(readings, now=NOW)
    assert check(accepted, now=NOW) == (accepted, ())


def walk_every_rule(readings, *, now):
    """check() as the rules read, one reading and one rule at a time, nothing folded."""
    reasons: dict[int, QuarantineReason] = {}
    for index, r in enumerate(readings):
        if r.measured_at > now + DEFAULT_SKEW:
            reasons[index] = FUTURE_REASON
        elif r.value is not None:
            for reading_rule in READING_RULES:
                if (
                    r.kind in reading_rule.kinds
                    and not reading_rule.low <= r.value <= reading_rule.high
                ):
                    reasons[index] = reading_rule.reason
                    break
    measurements: dict[tuple[str, int | None, datetime], list[int]] = {}
    for index, r in enumerate(readings):
        if index not in reasons:
            measurements.setdefault((r.device_id, r.user_id, r.measured_at), []).append(index)
    for indices in measurements.values():
        values = {readings[i].kind: readings[i].value for i in indices}
        values = {kind: value for kind, value in values.items() if value is not None}
        for measurement_rule in MEASUREMENT_RULES:
            if measurement_rule.implausible(values):
                for i in indices:
                    if readings[i].kind in measurement_rule.kinds:
                        reasons.setdefault(i, measurement_rule.reason)
    accepted = tuple(r for i, r in enumerate(readings) if i not in reasons)
    quarantined = tuple(
        Quarantined(reading=readings[i], reason=reason) for i, reason in sorted(reasons.items())
    )
    return accepted, quarantined


@given(st.lists(readings_strategy, max_size=30))
def test_check_agrees_with_walking_every_rule(readings):
    # check() folds the reading rules into one range per kind and groups only the
    # measurements a measurement rule looks at; the verdicts must not change.
    assert check(readings, now=NOW) == walk_every_rule(readings, now=NOW)
