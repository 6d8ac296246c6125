"""The alert lifecycle on a real PostgreSQL: one open alert per key, merge, ack, resolve, race."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from devices.reading import Kind
from ingest.alert import AlertCandidate, AlertStatus, Audience, TechnicalCondition
from ingest.alert_event import AlertEventKind, events_for
from ingest.alert_store import (
    AlertNotFoundError,
    AlertStateError,
    acknowledge,
    apply_candidates,
    escalate_due,
    get_alert,
    resolve,
)
from ingest.threshold import Direction, Severity
from tests.ingest.alerting import T0, add_user, alerts, home


def breach(patient_id: int, severity: Severity = Severity.YELLOW, **changes) -> AlertCandidate:
    base = AlertCandidate(
        condition="spo2_low",
        audience=Audience.CLINICAL,
        severity=severity,
        patient_id=patient_id,
        kind=Kind.SPO2,
        first_at=T0,
        last_at=T0,
        worst_value=91.0,
        direction=Direction.LOW,
        thresholds={"kind": "spo2", "red_low": 88.0},
    )
    return replace(base, **changes)


@pytest.fixture
def patient(db) -> int:
    return home(db).patient_id


def test_a_first_breach_raises_an_alert_with_what_it_used(db, patient):
    [change] = apply_candidates(db, [breach(patient)], now=T0)
    alert = get_alert(db, change.alert_id)
    assert change.event is AlertEventKind.RAISED
    assert (alert.condition, alert.severity, alert.status, alert.breach_count) == (
        "spo2_low",
        Severity.YELLOW,
        AlertStatus.OPEN,
        1,
    )
    assert (alert.first_at, alert.last_at, alert.worst_value, alert.late) == (T0, T0, 91.0, False)
    assert alert.thresholds == {"kind": "spo2", "red_low": 88.0}
    assert (
        alert.organization_id
        == db.execute("SELECT organization_id FROM patients WHERE id = %s", (patient,)).fetchone()[
            0
        ]
    )
    assert [e.event for e in events_for(db, alert.id)] == [AlertEventKind.RAISED]


def test_later_breaches_update_the_open_alert_in_any_order(db, patient):
    later, earlier = T0 + timedelta(hours=1), T0 - timedelta(hours=1)
    apply_candidates(db, [breach(patient)])
    apply_candidates(db, [breach(patient, first_at=later, last_at=later, worst_value=90.0)])
    [change] = apply_candidates(
        db, [breach(patient, first_at=earlier, last_at=earlier, worst_value=92.0, late=True)]
    )
    [alert] = alerts(db)
    assert change.event is None
    assert (alert.first_at, alert.last_at, alert.breach_count) == (earlier, later, 3)
    assert (alert.worst_value, alert.late) == (90.0, True)
    assert [e.event for e in events_for(db, alert.id)] == [AlertEventKind.RAISED]


def test_severity_rises_in_place_and_reopens_an_acknowledged_alert(db, patient):
    [first] = apply_candidates(db, [breach(patient)], now=T0)
    acknowledge(db, first.alert_id, by=add_user(db), note="called the patient")
    red_at = T0 + timedelta(minutes=5)
    snapshot = {"kind": "spo2", "red_low": 90.0}
    [change] = apply_candidates(
        db, [breach(patient, Severity.RED, worst_value=85.0, thresholds=snapshot)], now=red_at
    )
    alert = get_alert(db, first.alert_id)
    assert change.event is AlertEventKind.SEVERITY_RAISED
    assert (alert.severity, alert.status, alert.severity_at) == (
        Severity.RED,
        AlertStatus.OPEN,
        red_at,
    )
    assert alert.thresholds == snapshot  # the limits that made it red
    assert alert.acknowledgement_note == "called the patient"  # the earlier step stays on record


def test_severity_never_falls(db, patient):
    apply_candidates(db, [breach(patient, Severity.RED, worst_value=85.0)])
    [change] = apply_candidates(db, [breach(patient, Severity.YELLOW, worst_value=92.0)])
    [alert] = alerts(db)
    assert change.event is None
    assert (alert.severity, alert.breach_count, alert.worst_value) == (Severity.RED, 2, 85.0)


def test_acknowledge_records_who_when_and_note(db, patient):
    user = add_user(db)
    [change] = apply_candidates(db, [breach(patient)])
    at = T0 + timedelta(minutes=3)
    alert = acknowledge(db, change.alert_id, by=user, note="measured again: 95 %", at=at)
    assert (alert.status, alert.acknowledged_by, alert.acknowledged_at) == (
        AlertStatus.ACKNOWLEDGED,
        user,
        at,
    )
    assert alert.acknowledgement_note == "measured again: 95 %"
    assert [e.event for e in events_for(db, alert.id)] == [
        AlertEventKind.RAISED,
        AlertEventKind.ACKNOWLEDGED,
    ]


def test_acknowledging_twice_or_a_resolved_or_unknown_alert_is_refused(db, patient):
    user = add_user(db)
    [change] = apply_candidates(db, [breach(patient)])
    acknowledge(db, change.alert_id, by=user)
    with pytest.raises(AlertStateError, match="not open"):
        acknowledge(db, change.alert_id, by=user)
    resolve(db, change.alert_id, by=user)
    with pytest.raises(AlertStateError):
        resolve(db, change.alert_id, by=user)
    with pytest.raises(AlertNotFoundError):
        acknowledge(db, 999_999, by=user)
    with pytest.raises(AlertNotFoundError):
        get_alert(db, 999_999)


def test_a_breach_after_resolve_raises_a_new_alert(db, patient):
    user = add_user(db)
    [first] = apply_candidates(db, [breach(patient)])
    resolved = resolve(db, first.alert_id, by=user, at=T0 + timedelta(hours=1))
    assert (resolved.status, resolved.resolved_by) == (AlertStatus.RESOLVED, user)
    [second] = apply_candidates(
        db, [breach(patient, first_at=T0 + timedelta(hours=2), last_at=T0 + timedelta(hours=2))]
    )
    assert second.event is AlertEventKind.RAISED
    assert second.alert_id != first.alert_id
    assert [(a.status, a.breach_count) for a in alerts(db)] == [
        (AlertStatus.RESOLVED, 1),
        (AlertStatus.OPEN, 1),
    ]


def test_alerts_of_one_key_merge_within_one_call(db, patient):
    [change] = apply_candidates(
        db, [breach(patient), breach(patient, Severity.RED, worst_value=80.0), breach(patient)]
    )
    [alert] = alerts(db)
    assert change.event is AlertEventKind.RAISED
    assert (alert.severity, alert.breach_count, alert.worst_value) == (Severity.RED, 3, 80.0)


def test_a_technical_alert_of_an_unregistered_device_is_dropped(db):
    ghost = AlertCandidate(
        condition=TechnicalCondition.CLOCK_SKEW,
        audience=Audience.TECHNICAL,
        severity=Severity.YELLOW,
        device_id="not-registered",
        first_at=T0,
        last_at=T0,
    )
    assert apply_candidates(db, [ghost]) == []
    assert alerts(db) == []


def test_a_technical_alert_goes_to_the_device_owner(db, patient):
    skew = AlertCandidate(
        condition=TechnicalCondition.CLOCK_SKEW,
        audience=Audience.TECHNICAL,
        severity=Severity.YELLOW,
        device_id="cuff-1",
        first_at=T0,
        last_at=T0,
    )
    apply_candidates(db, [skew])
    [alert] = alerts(db)
    owner = db.execute("SELECT organization_id FROM devices WHERE id = 'cuff-1'").fetchone()[0]
    assert (alert.audience, alert.patient_id, alert.device_id, alert.organization_id) == (
        Audience.TECHNICAL,
        None,
        "cuff-1",
        owner,
    )


def test_a_state_candidate_without_new_breaches_still_counts_one_on_raise(db, patient):
    state = AlertCandidate(
        condition=TechnicalCondition.GATEWAY_OFFLINE,
        audience=Audience.TECHNICAL,
        severity=Severity.YELLOW,
        gateway_id="gw-1",
        first_at=T0,
        last_at=T0,
        count=0,
        worst_value=1800.0,
        direction=Direction.HIGH,
    )
    apply_candidates(db, [state])
    apply_candidates(db, [replace(state, worst_value=3600.0)])
    [alert] = alerts(db)
    assert (alert.breach_count, alert.worst_value) == (1, 3600.0)


def test_an_unacknowledged_red_alert_escalates_once_after_the_delay(db, patient):
    [red] = apply_candidates(db, [breach(patient, Severity.RED)], now=T0)
    apply_candidates(
        db,
        [
            breach(
                patient,
                condition="pulse_rate_high",
                kind=Kind.PULSE_RATE,
                direction=Direction.HIGH,
            )
        ],
        now=T0,
    )
    after = timedelta(minutes=15)
    assert escalate_due(db, now=T0 + after - timedelta(seconds=1), after=after) == []
    assert escalate_due(db, now=T0 + after, after=after) == [red.alert_id]
    assert escalate_due(db, now=T0 + 2 * after, after=after) == []  # once
    alert = get_alert(db, red.alert_id)
    assert alert.escalated_at == T0 + after
    assert [e.event for e in events_for(db, red.alert_id)] == [
        AlertEventKind.RAISED,
        AlertEventKind.ESCALATED,
    ]


def test_an_acknowledged_red_alert_does_not_escalate(db, patient):
    [red] = apply_candidates(db, [breach(patient, Severity.RED)], now=T0)
    acknowledge(db, red.alert_id, by=add_user(db), at=T0 + timedelta(minutes=1))
    assert escalate_due(db, now=T0 + timedelta(hours=1), after=timedelta(minutes=15)) == []


def test_a_yellow_alert_that_turns_red_escalates_from_when_it_turned(db, patient):
    [alert] = apply_candidates(db, [breach(patient)], now=T0)
    red_at = T0 + timedelta(hours=2)
    apply_candidates(db, [breach(patient, Severity.RED)], now=red_at)
    after = timedelta(minutes=15)
    assert escalate_due(db, now=red_at + after - timedelta(seconds=1), after=after) == []
    assert escalate_due(db, now=red_at + after, after=after) == [alert.alert_id]


@pytest.mark.parametrize("rounds", [pytest.param(20, id="20-rounds")])
def test_two_processes_raising_the_same_alert_at_once_make_one(database_url, rounds):
    """The alerts_one_open index and ON CONFLICT turn a race into one alert, one event."""
    with psycopg.connect(database_url) as setup:
        patients = [home(setup, suffix=str(n)).patient_id for n in range(rounds)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def raise_all() -> None:
        try:
            with psycopg.connect(database_url) as conn:
                for patient_id in patients:
                    barrier.wait(timeout=10)
                    apply_candidates(conn, [breach(patient_id)])
        except BaseException as exc:  # reported to the test thread below
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=raise_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT patient_id, count(*), sum(breach_count) FROM alerts GROUP BY patient_id"
        ).fetchall()
        raised = conn.execute("SELECT count(*) FROM alert_events WHERE event = 'raised'").fetchone()
    assert sorted(rows) == [(p, 1, 2) for p in sorted(patients)]
    assert raised == (rounds,)
