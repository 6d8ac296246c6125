"""Alerts on arrival against a real PostgreSQL: store + judge in one transaction, as ingest does."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.reading import Flag, Kind, Reading
from ingest import evaluation
from ingest.alert import AlertStatus, TechnicalCondition
from ingest.alert_event import AlertEventKind, events_for
from ingest.plausibility import Quarantined, QuarantineReason
from ingest.program import Program
from tests.ingest.alerting import T0, alerts, flush, home, spot, stream, summary

NORMAL, RED = 95.0, 85.0


def episode(seconds: int = 70, *, before: int = 30, after: int = 30) -> list[Reading]:
    """A COPD desaturation: SpO2 at 85 % (red below 88) for ``seconds``."""
    return stream([NORMAL] * before + [RED] * seconds + [NORMAL] * after)


def batches(readings: list[Reading], size: int) -> list[list[Reading]]:
    return [readings[i : i + size] for i in range(0, len(readings), size)]


def test_a_crisis_reading_raises_a_red_alert_once(db):
    patient = home(db).patient_id
    crisis = spot(Kind.SYSTOLIC, 193.0)
    [change] = flush(db, crisis, spot(Kind.DIASTOLIC, 90.0))
    [alert] = alerts(db)
    assert change.event is AlertEventKind.RAISED
    assert summary(alert) == ("systolic_high", "red", "open", 1, 193.0, False)
    assert (alert.patient_id, alert.kind, alert.first_at) == (patient, Kind.SYSTOLIC, T0)
    assert alert.thresholds is not None
    assert (alert.thresholds["red_high"], alert.thresholds["program"]) == (180.0, "general")
    # The same batch again (a QoS 1 redelivery) stores nothing new and raises nothing.
    assert flush(db, crisis, spot(Kind.DIASTOLIC, 90.0)) == []
    assert [summary(a) for a in alerts(db)] == [summary(alert)]


def test_a_desaturation_in_batches_raises_one_red_alert_counting_every_sample(db):
    home(db, program=Program.COPD)
    for batch in batches(episode(70), 25):
        flush(db, *batch)
    [alert] = alerts(db)
    assert summary(alert) == ("spo2_low", "red", "open", 70, RED, False)
    assert (alert.first_at, alert.last_at) == (
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=99),
    )
    assert [e.event for e in events_for(db, alert.id)] == [AlertEventKind.RAISED]


@pytest.mark.parametrize(
    "readings",
    [
        pytest.param(stream([NORMAL] * 100 + [RED] + [NORMAL] * 100), id="single-sample-dip"),
        pytest.param(stream([NORMAL] * 30 + [RED] * 50 + [NORMAL] * 30), id="red-for-50-s"),
        pytest.param(
            stream([NORMAL] * 30 + [RED] * 120 + [NORMAL] * 30, flagged=range(30, 150, 2)),
            id="every-other-sample-flagged",
        ),
        pytest.param(stream([None] * 120), id="probe-off-nan"),
    ],
)
def test_what_a_stream_does_not_raise(db, readings):
    home(db, program=Program.COPD)
    for batch in batches(readings, 50):
        flush(db, *batch)
    assert alerts(db) == []


def test_a_desaturation_split_across_two_ingest_processes_is_one_alert(database_url):
    """Two connections store interleaved halves of one episode at the same moments."""
    with psycopg.connect(database_url) as conn:
        home(conn, program=Program.COPD)
    parts = batches(episode(120, before=0, after=0), 10)
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def ingest(mine: list[list[Reading]]) -> None:
        try:
            with psycopg.connect(database_url) as conn:
                for batch in mine:
                    barrier.wait(timeout=10)
                    flush(conn, *batch)
        except BaseException as exc:  # reported below
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=ingest, args=(parts[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    with psycopg.connect(database_url) as conn:
        [alert] = alerts(conn)
        assert summary(alert) == ("spo2_low", "red", "open", 120, RED, False)
        assert [e.event for e in events_for(conn, alert.id)] == [AlertEventKind.RAISED]


def test_a_batch_hours_late_marks_the_alert_late(db):
    home(db)
    flush(db, spot(Kind.SYSTOLIC, 190.0), received_at=T0 + timedelta(hours=5))
    [alert] = alerts(db)
    assert alert.late


def test_out_of_order_batches_widen_the_alert_both_ways(db):
    home(db)
    flush(db, spot(Kind.SYSTOLIC, 170.0, at=T0 + timedelta(hours=12)))
    flush(db, spot(Kind.SYSTOLIC, 175.0, at=T0), received_at=T0 + timedelta(hours=13))
    [alert] = alerts(db)
    assert (alert.first_at, alert.last_at, alert.breach_count, alert.worst_value) == (
        T0,
        T0 + timedelta(hours=12),
        2,
        175.0,
    )
    assert alert.late


def test_quarantined_and_valueless_readings_never_alert_clinically(db):
    home(db)
    implausible = spot(Kind.SPO2, 104.0, device="oximeter-1")
    flush(
        db,
        spot(Kind.SYSTOLIC, None),
        quarantined=[Quarantined(reading=implausible, reason=QuarantineReason.SPO2_ABOVE_100)],
    )
    assert [a for a in alerts(db) if a.audience == "clinical"] == []


def test_repeated_implausible_and_clock_trouble_goes_to_the_fleet(db):
    home(db)
    for hour in range(3):
        ahead = spot(Kind.SYSTOLIC, 120.0, at=T0 + timedelta(hours=hour, days=2))
        flush(
            db,
            spot(Kind.SYSTOLIC, 120.0, at=T0 + timedelta(hours=hour)),
            quarantined=[Quarantined(reading=ahead, reason=QuarantineReason.MEASURED_IN_FUTURE)],
        )
    found = {a.condition: a for a in alerts(db)}
    assert set(found) == {TechnicalCondition.CLOCK_SKEW, TechnicalCondition.IMPLAUSIBLE_READINGS}
    assert all(a.audience == "technical" and a.patient_id is None for a in found.values())
    assert (found["clock_skew"].breach_count, found["implausible_readings"].breach_count) == (3, 1)


def test_three_failed_cuff_measurements_in_a_day_are_a_technical_alert(db):
    home(db)
    for hour in range(3):
        at = T0 + timedelta(hours=hour)
        flush(db, *(spot(kind, None, at=at) for kind in (Kind.SYSTOLIC, Kind.DIASTOLIC)))
    [alert] = alerts(db)
    assert (alert.condition, alert.device_id, alert.breach_count) == (
        TechnicalCondition.FAILED_MEASUREMENTS,
        "cuff-1",
        1,
    )


def test_a_device_without_a_clock_is_a_technical_alert_not_a_clinical_one(db):
    home(db)
    flush(db, spot(Kind.SYSTOLIC, 120.0, flags={Flag.RECEIVE_TIME}))
    [alert] = alerts(db)
    assert (alert.condition, alert.audience, alert.device_id) == (
        "clock_skew",
        "technical",
        "cuff-1",
    )


def test_irregular_pulse_raises_its_own_alert(db):
    home(db)
    measurement = ((Kind.SYSTOLIC, 125.0), (Kind.DIASTOLIC, 80.0), (Kind.PULSE_RATE, 88.0))
    flush(db, *(spot(kind, value, flags={Flag.IRREGULAR_PULSE}) for kind, value in measurement))
    [alert] = alerts(db)
    assert (alert.condition, alert.severity, alert.breach_count) == ("irregular_pulse", "yellow", 1)


def test_a_failing_rule_costs_the_alerts_never_the_readings(db, monkeypatch, caplog):
    home(db)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a rule")

    monkeypatch.setattr(evaluation, "evaluate", broken)
    assert flush(db, spot(Kind.SYSTOLIC, 200.0)) == []
    assert db.execute("SELECT count(*) FROM readings").fetchone() == (1,)
    assert alerts(db) == []
    assert "alerts_skipped" in caplog.text


def test_a_reading_of_an_unassigned_device_is_stored_and_never_alerts(db):
    home(db)
    flush(db, spot(Kind.SYSTOLIC, 250.0, device="cuff-of-nobody"))
    assert alerts(db) == []


# -- any order, any split: the same alerts, on the real database -------------------------


def _clear(conn) -> None:
    for table in ("webhook_deliveries", "alert_events", "alerts", "readings"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()


levels = st.sampled_from([NORMAL, 90.0, RED])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pattern=st.lists(st.tuples(levels, st.integers(5, 80)), min_size=1, max_size=6),
    data=st.data(),
)
def test_any_order_and_split_of_batches_gives_the_same_alerts(db, pattern, data):
    if not db.execute("SELECT count(*) FROM monitoring_plans").fetchone()[0]:
        home(db, program=Program.COPD)
    readings = stream([value for value, run in pattern for _ in range(run)])
    _clear(db)
    for batch in batches(readings, len(readings)):
        flush(db, *batch)
    whole = sorted((*summary(a)[:5], a.first_at, a.last_at) for a in alerts(db))
    _clear(db)
    size = data.draw(st.integers(1, 60), label="batch size")
    parts = data.draw(st.permutations(batches(readings, size)), label="arrival order")
    for batch in parts:
        flush(db, *batch)
    split = sorted((*summary(a)[:5], a.first_at, a.last_at) for a in alerts(db))
    assert split == whole
    assert all(a.status is AlertStatus.OPEN for a in alerts(db))
