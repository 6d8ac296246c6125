"""Care programs: defaults valid and sourced, agreeing with the simulator, copied on enrolment."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from devices.reading import Kind
from devices.simulator.scenario import SCENARIOS, Scenario
from ingest.monitoring_plan import enrol, load_schedules, load_threshold_book, set_threshold
from ingest.program import (
    PROGRAM_SCHEDULES,
    PROGRAM_THRESHOLDS,
    Program,
    default_schedules,
    default_thresholds,
)
from ingest.threshold import Severity, Threshold
from tests.ingest.alerting import ENROLLED, home

CLINICAL_KINDS = {Kind.SYSTOLIC, Kind.DIASTOLIC, Kind.PULSE_RATE, Kind.SPO2}


@pytest.mark.parametrize("program", list(Program))
def test_every_program_covers_the_clinical_kinds_once_with_a_source(program):
    defaults = PROGRAM_THRESHOLDS[program]
    assert {d.threshold.kind for d in defaults} == CLINICAL_KINDS
    assert len(defaults) == len(CLINICAL_KINDS)
    assert all(len(d.source) > 20 for d in defaults)
    assert program in PROGRAM_SCHEDULES


@pytest.mark.parametrize(
    ("program", "kind", "limits"),
    [
        pytest.param(Program.COPD, Kind.SPO2, (88.0, None, None, None), id="copd-bts-88"),
        pytest.param(Program.GENERAL, Kind.SPO2, (92.0, 94.0, None, None), id="general-news2"),
        pytest.param(Program.HEART_FAILURE, Kind.SPO2, (92.0, 95.0, None, None), id="hf-telbil-95"),
        pytest.param(
            Program.HYPERTENSION, Kind.SYSTOLIC, (91.0, 100.0, 134.0, 180.0), id="htn-home-135"
        ),
        pytest.param(
            Program.HYPERTENSION, Kind.DIASTOLIC, (None, 60.0, 84.0, 120.0), id="htn-home-85"
        ),
        pytest.param(
            Program.GENERAL, Kind.PULSE_RATE, (41.0, 50.0, 100.0, 130.0), id="pulse-news2-telbil"
        ),
    ],
)
def test_defaults_follow_their_sources(program, kind, limits):
    [threshold] = [t for t in default_thresholds(program) if t.kind is kind]
    assert (threshold.red_low, threshold.yellow_low, threshold.yellow_high, threshold.red_high) == (
        limits
    )


def _general(kind: Kind) -> Threshold:
    return next(t for t in default_thresholds(Program.GENERAL) if t.kind is kind)


def test_the_simulated_scenarios_land_where_their_expectations_say():
    normal_bp = SCENARIOS[Scenario.NORMAL].haemodynamics
    assert normal_bp is None  # NORMAL sets nothing: its values are the baseline profile
    crisis = SCENARIOS[Scenario.HYPERTENSIVE_CRISIS].haemodynamics
    hypotension = SCENARIOS[Scenario.HYPOTENSION].haemodynamics
    desaturation = SCENARIOS[Scenario.DESATURATION].desaturation
    assert crisis is not None
    assert hypotension is not None
    assert desaturation is not None
    systolic = _general(Kind.SYSTOLIC)
    # Every crisis reading is red high, every hypotension reading red low.
    assert systolic.judge(crisis.systolic_limits.low).severity is Severity.RED  # type: ignore[union-attr]
    assert systolic.judge(hypotension.systolic_limits.high).severity is Severity.RED  # type: ignore[union-attr]
    # The COPD desaturation plateau stays below the COPD red limit.
    [copd_spo2] = [t for t in default_thresholds(Program.COPD) if t.kind is Kind.SPO2]
    assert copd_spo2.judge(desaturation.plateau_ceiling).severity is Severity.RED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        pytest.param(Kind.SYSTOLIC, 100, 134, id="systolic"),
        pytest.param(Kind.DIASTOLIC, 60, 84, id="diastolic"),
        pytest.param(Kind.PULSE_RATE, 51, 95, id="pulse"),
        pytest.param(Kind.SPO2, 94, 100, id="spo2"),
    ],
)
def test_a_healthy_simulated_patient_stays_inside_the_general_defaults(kind, low, high):
    # The NORMAL scenario's limits (devices/simulator/scenario.py _NORMAL_*).
    threshold = _general(kind)
    assert threshold.judge(low) is None
    assert threshold.judge(high) is None


@pytest.mark.parametrize(
    ("program", "severity"),
    [(Program.HYPERTENSION, Severity.YELLOW), (Program.GENERAL, None)],
    ids=["hypertension", "general"],
)
def test_elevated_pressure_is_yellow_only_under_hypertension_limits(program, severity):
    # The demo's yellow patients (telecare/demo/plan.py): 135/85 or more at home.
    elevated = SCENARIOS[Scenario.ELEVATED_PRESSURE].haemodynamics
    assert elevated is not None
    limits = {t.kind: t for t in default_thresholds(program)}
    for kind, span in (
        (Kind.SYSTOLIC, elevated.systolic_limits),
        (Kind.DIASTOLIC, elevated.diastolic_limits),
    ):
        for value in (span.low, span.high):
            breach = limits[kind].judge(value)
            assert (breach and breach.severity) == severity, (kind, value)


def test_default_schedules_use_the_zone_given():
    [spo2] = default_schedules(Program.COPD, timezone="Europe/London")
    assert (spo2.kind, spo2.times, spo2.timezone) == (
        Kind.SPO2,
        (time(8, 0), time(20, 0)),
        "Europe/London",
    )


def test_enrolment_copies_thresholds_and_schedules_with_history(db):
    patient = home(db, program=None).patient_id
    enrol(db, patient, Program.COPD, at=ENROLLED)
    db.commit()
    rows = db.execute(
        "SELECT kind, program, valid_from FROM threshold_history WHERE patient_id = %s", (patient,)
    ).fetchall()
    assert sorted(rows) == sorted((kind.value, "copd", ENROLLED) for kind in CLINICAL_KINDS)
    [planned] = load_schedules(db)
    assert (planned.patient_id, planned.schedule.kind, planned.active_from) == (
        patient,
        Kind.SPO2,
        ENROLLED,
    )
    book = load_threshold_book(db, [(patient, Kind.SPO2)], until=ENROLLED + timedelta(days=1))
    found = book.in_force(patient, Kind.SPO2, ENROLLED)
    assert found is not None
    assert (found.threshold.red_low, found.program) == (88.0, "copd")


def test_a_changed_threshold_keeps_the_old_version_in_force_before_the_change(db):
    patient = home(db, program=Program.COPD).patient_id
    changed = ENROLLED + timedelta(days=3)
    set_threshold(db, patient, Threshold(kind=Kind.SPO2, red_low=85.0), at=changed)
    db.commit()
    book = load_threshold_book(db, [(patient, Kind.SPO2)], until=changed + timedelta(days=1))
    before = book.in_force(patient, Kind.SPO2, changed - timedelta(seconds=1))
    after = book.in_force(patient, Kind.SPO2, changed)
    assert before is not None
    assert after is not None
    assert (before.threshold.red_low, after.threshold.red_low) == (88.0, 85.0)
    assert db.execute(
        "SELECT count(*) FROM threshold_history WHERE patient_id = %s AND kind = 'spo2'",
        (patient,),
    ).fetchone() == (2,)
