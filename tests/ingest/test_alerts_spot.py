"""Spot readings and the irregular-pulse flag, table-driven at every edge (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.reading import MMHG_PER_KPA, Flag, Kind, Reading, Unit
from ingest.alert import IRREGULAR_PULSE
from ingest.program import Program, default_thresholds
from ingest.rules.observation import Observation
from ingest.rules.settings import RuleSettings
from ingest.rules.spot import irregular_pulse_candidates, spot_candidates
from ingest.threshold import Severity, Threshold, ThresholdBook, ThresholdVersion
from tests.ingest.alerting import spot

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ENROLLED = T0 - timedelta(days=30)
RULES = RuleSettings()


def book(program: Program, patient_id: int = 1) -> ThresholdBook:
    return ThresholdBook.of(
        ThresholdVersion(
            patient_id=patient_id, threshold=t, valid_from=ENROLLED, program=program.value
        )
        for t in default_thresholds(program)
    )


def observe(reading: Reading, *, patient_id: int | None = 1, delay=timedelta(seconds=2)):
    return Observation(
        reading=reading,
        patient_id=patient_id,
        gateway_id="gw-1",
        received_at=reading.measured_at + delay,
    )


def judged(program: Program, reading: Reading) -> tuple[str, Severity] | None:
    found = spot_candidates([observe(reading)], book(program), RULES)
    assert len(found) <= 1
    return (found[0].condition, found[0].severity) if found else None


RED, YELLOW = Severity.RED, Severity.YELLOW


@pytest.mark.parametrize(
    ("program", "reading", "expected"),
    [
        # General program, systolic: red < 91, yellow < 100, yellow > 160, red > 180.
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 180.0), ("systolic_high", YELLOW),
                     id="systolic-180-equal-to-red-limit-is-yellow"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 181.0), ("systolic_high", RED),
                     id="systolic-181-crisis"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 160.0), None,
                     id="systolic-160-equal-to-yellow-limit"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 100.0), None,
                     id="systolic-100-equal-to-yellow-low"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 99.0), ("systolic_low", YELLOW),
                     id="systolic-99"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 90.0), ("systolic_low", RED),
                     id="systolic-90-news2-3"),
        pytest.param(Program.GENERAL, spot(Kind.DIASTOLIC, 121.0), ("diastolic_high", RED),
                     id="diastolic-121-crisis"),
        pytest.param(Program.GENERAL, spot(Kind.DIASTOLIC, 40.0), ("diastolic_low", YELLOW),
                     id="diastolic-no-red-low-stays-yellow"),
        pytest.param(Program.GENERAL, spot(Kind.PULSE_RATE, 131.0), ("pulse_rate_high", RED),
                     id="pulse-131"),
        pytest.param(Program.GENERAL, spot(Kind.SPO2, 93.0, device="oximeter-1"),
                     ("spo2_low", YELLOW), id="spo2-93-news2-2"),
        pytest.param(Program.GENERAL, spot(Kind.SPO2, 91.0, device="oximeter-1"),
                     ("spo2_low", RED), id="spo2-91-news2-3"),
        pytest.param(Program.COPD, spot(Kind.SPO2, 88.0, device="oximeter-1"), None,
                     id="copd-spo2-88-inside-bts-target"),
        pytest.param(Program.COPD, spot(Kind.SPO2, 87.0, device="oximeter-1"),
                     ("spo2_low", RED), id="copd-spo2-87"),
        pytest.param(Program.HYPERTENSION, spot(Kind.SYSTOLIC, 134.0), None,
                     id="htn-systolic-134"),
        pytest.param(Program.HYPERTENSION, spot(Kind.SYSTOLIC, 135.0), ("systolic_high", YELLOW),
                     id="htn-systolic-135-elevated-at-home"),
        pytest.param(Program.HEART_FAILURE, spot(Kind.SPO2, 94.0, device="oximeter-1"),
                     ("spo2_low", YELLOW), id="hf-spo2-94-telbil"),
        # Units, absent values, flags.
        pytest.param(Program.GENERAL,
                     spot(Kind.SYSTOLIC, 24.5, unit=Unit.KPA),
                     ("systolic_high", RED), id="kpa-reading-judged-in-mmhg"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SYSTOLIC, round(24.5 * MMHG_PER_KPA, 1), original_value=24.5,
                          original_unit=Unit.KPA),
                     ("systolic_high", RED), id="kpa-source-converted-on-decoding"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, None), None, id="nan-never-alerts"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SPO2, 80.0, device="oximeter-1", flags={Flag.QUESTIONABLE}),
                     None, id="questionable-never-alerts"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SPO2, 80.0, device="oximeter-1", flags={Flag.SENSOR_DISPLACED}),
                     None, id="sensor-displaced-never-alerts"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SYSTOLIC, 200.0, flags={Flag.BODY_MOVEMENT}),
                     ("systolic_high", YELLOW), id="body-movement-caps-at-yellow"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SYSTOLIC, 170.0, flags={Flag.CUFF_TOO_LOOSE}),
                     ("systolic_high", YELLOW), id="loose-cuff-yellow-stays-yellow"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SYSTOLIC, 200.0, flags={Flag.FROM_STORAGE, Flag.IRREGULAR_PULSE}),
                     ("systolic_high", RED), id="neutral-flags-change-nothing"),
        pytest.param(Program.GENERAL,
                     spot(Kind.SPO2, 80.0, device="oximeter-1", continuous=True),
                     None, id="continuous-samples-are-not-spot-readings"),
        pytest.param(Program.GENERAL, spot(Kind.PERFUSION_INDEX, 0.1, device="oximeter-1"),
                     None, id="kind-without-thresholds"),
        pytest.param(Program.GENERAL, spot(Kind.SYSTOLIC, 200.0, at=ENROLLED - timedelta(1)),
                     None, id="measured-before-any-threshold"),
    ],
)  # fmt: skip
def test_spot_rules(program, reading, expected):
    assert judged(program, reading) == expected


def test_a_spot_candidate_carries_value_time_snapshot_and_lateness():
    reading = spot(Kind.SYSTOLIC, 195.0)
    [candidate] = spot_candidates(
        [observe(reading, delay=timedelta(hours=3))], book(Program.GENERAL), RULES
    )
    assert (candidate.patient_id, candidate.kind, candidate.count) == (1, Kind.SYSTOLIC, 1)
    assert (candidate.first_at, candidate.last_at, candidate.worst_value) == (T0, T0, 195.0)
    assert candidate.late
    assert candidate.thresholds is not None
    assert (candidate.thresholds["red_high"], candidate.thresholds["program"]) == (
        180.0,
        "general",
    )


def test_a_reading_is_judged_by_the_thresholds_in_force_at_its_measured_at():
    changed = T0 - timedelta(hours=1)
    versions = ThresholdBook.of(
        [
            ThresholdVersion(
                patient_id=1,
                threshold=Threshold(kind=Kind.SPO2, red_low=92.0),
                valid_from=ENROLLED,
            ),
            ThresholdVersion(
                patient_id=1, threshold=Threshold(kind=Kind.SPO2, red_low=88.0), valid_from=changed
            ),
        ]
    )
    earlier = spot(Kind.SPO2, 90.0, device="oximeter-1", at=changed - timedelta(minutes=1))
    later = spot(Kind.SPO2, 90.0, device="oximeter-1", at=changed)
    found = spot_candidates([observe(earlier), observe(later)], versions, RULES)
    assert [c.first_at for c in found] == [earlier.measured_at]


def test_an_unattributed_reading_never_alerts():
    reading = spot(Kind.SYSTOLIC, 250.0)
    assert spot_candidates([observe(reading, patient_id=None)], book(Program.GENERAL), RULES) == []


@pytest.mark.parametrize(
    ("reading", "rules", "expected"),
    [
        pytest.param(spot(Kind.SYSTOLIC, 120.0, flags={Flag.IRREGULAR_PULSE}), RULES,
                     Severity.YELLOW, id="flagged-systolic"),
        pytest.param(spot(Kind.SYSTOLIC, 120.0, flags={Flag.IRREGULAR_PULSE}),
                     RuleSettings(irregular_pulse=Severity.RED), Severity.RED, id="configured-red"),
        pytest.param(spot(Kind.SYSTOLIC, 120.0, flags={Flag.IRREGULAR_PULSE}),
                     RuleSettings(irregular_pulse=None), None, id="switched-off"),
        pytest.param(spot(Kind.DIASTOLIC, 80.0, flags={Flag.IRREGULAR_PULSE}), RULES, None,
                     id="counted-once-on-the-systolic-reading"),
        pytest.param(spot(Kind.SYSTOLIC, 120.0), RULES, None, id="not-flagged"),
        pytest.param(spot(Kind.SYSTOLIC, None, flags={Flag.IRREGULAR_PULSE}), RULES, None,
                     id="failed-measurement"),
    ],
)  # fmt: skip
def test_irregular_pulse(reading, rules, expected):
    found = irregular_pulse_candidates([observe(reading)], rules)
    assert [(c.condition, c.severity) for c in found] == (
        [] if expected is None else [(IRREGULAR_PULSE, expected)]
    )
