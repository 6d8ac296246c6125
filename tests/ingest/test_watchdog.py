"""The watchdog's tick with a controlled clock, on a real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from devices.reading import Flag, Kind
from ingest.alert import Alert, AlertStatus, TechnicalCondition
from ingest.alert_settings import AlertSettings
from ingest.alert_store import acknowledge, resolve
from ingest.monitoring_plan import add_passive_period
from ingest.program import Program
from ingest.schedule import PassivePeriod, PassiveReason
from ingest.watchdog import TickReport, tick
from tests.ingest.alerting import add_user, alerts, flush, home, spot, stream

# A Monday in November: Copenhagen is UTC+1, so the COPD schedule's 08:00 and 20:00 are
# 07:00 and 19:00 UTC, each with two hours of grace.
DAY = datetime(2026, 11, 2, tzinfo=UTC)
ENROLLED = DAY - timedelta(days=1)
SETTINGS = AlertSettings()


def at(hours: float, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hours)


def of(db, condition: str) -> list[Alert]:
    return [a for a in alerts(db) if a.condition == condition]


@pytest.fixture
def patient(db) -> int:
    return home(db, program=Program.COPD, enrolled=ENROLLED).patient_id


def test_a_missed_morning_measurement_raises_blue_once(db, patient):
    flush(db, spot(Kind.SPO2, 95.0, device="oximeter-1", at=at(7, day=-1)))
    flush(db, spot(Kind.SPO2, 95.0, device="oximeter-1", at=at(19.5, day=-1)))
    tick(db, at(8.99))  # the morning window is still open
    assert of(db, "missing_spo2") == []
    tick(db, at(9))
    [blue] = of(db, "missing_spo2")
    assert (blue.severity, blue.breach_count, blue.first_at, blue.kind) == (
        "blue",
        1,
        at(7),
        Kind.SPO2,
    )
    tick(db, at(9.5))
    assert [a.breach_count for a in of(db, "missing_spo2")] == [1]  # the same slot, once


def test_missed_slots_since_enrolment_count_up_and_a_late_reading_resolves(db, patient):
    tick(db, at(21))  # enrolled yesterday at midnight: four slots since, none measured
    [blue] = of(db, "missing_spo2")
    assert (blue.breach_count, blue.first_at, blue.last_at) == (4, at(7, day=-1), at(19))
    flush(db, spot(Kind.SPO2, 96.0, device="oximeter-1", at=at(21.5)))
    report = tick(db, at(22))
    [resolved] = of(db, "missing_spo2")
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.resolved_by is None  # by the watchdog
    assert report.resolved >= 1


def test_a_resolved_missed_slot_is_not_raised_again(db, patient):
    tick(db, at(9))
    [blue] = of(db, "missing_spo2")
    resolve(db, blue.id, by=add_user(db), at=at(9.5))
    tick(db, at(10))
    assert [a.status for a in of(db, "missing_spo2")] == [AlertStatus.RESOLVED]


def test_a_passive_period_silences_missed_slots(db, patient):
    add_passive_period(
        db, patient, PassivePeriod(start=at(0, day=-1), end=None, reason=PassiveReason.ADMITTED)
    )
    tick(db, at(21))
    assert of(db, "missing_spo2") == []


def test_a_gateway_offline_past_the_limit_alerts_the_fleet_until_it_is_back(db, patient):
    db.execute("UPDATE gateways SET state = 'offline', status_at = %s", (at(8),))
    db.commit()
    tick(db, at(8.49))
    assert of(db, "gateway_offline") == []
    tick(db, at(8.5))
    [offline] = of(db, "gateway_offline")
    assert (offline.audience, offline.gateway_id, offline.patient_id, offline.worst_value) == (
        "technical",
        "gw-1",
        None,
        1800.0,
    )
    tick(db, at(9))
    [still] = of(db, "gateway_offline")
    assert (still.breach_count, still.worst_value, still.status) == (1, 3600.0, AlertStatus.OPEN)
    db.execute("UPDATE gateways SET state = 'online', status_at = %s", (at(9.1),))
    db.commit()
    tick(db, at(9.2))
    assert [a.status for a in of(db, "gateway_offline")] == [AlertStatus.RESOLVED]


def test_low_battery_full_outbox_a_silent_device_and_a_clock_off(db, patient):
    flush(db, spot(Kind.SYSTOLIC, 120.0, at=at(6)))  # the cuff speaks, the oximeter never
    db.execute("UPDATE devices SET battery_percent = 15, clock_offset_s = -7200, "
               "reported_at = %s WHERE id = 'cuff-1'", (at(6),))  # fmt: skip
    # The flag, as the gateway's status reported it: the depth alone says nothing.
    db.execute("UPDATE gateways SET state = 'online', status_at = %s, outbox_depth = 812, "
               "status_flags = '{outbox_full}'", (at(6),))  # fmt: skip
    db.commit()
    tick(db, ENROLLED + timedelta(days=4))
    found = {(a.condition, a.device_id or a.gateway_id, a.worst_value) for a in alerts(db)
             if a.audience == "technical"}  # fmt: skip
    assert found == {
        (TechnicalCondition.BATTERY_LOW, "cuff-1", 15.0),
        (TechnicalCondition.CLOCK_SKEW, "cuff-1", 7200.0),
        (TechnicalCondition.OUTBOX_FULL, "gw-1", 812.0),
        (TechnicalCondition.DEVICE_SILENT, "oximeter-1", 4 * 86400.0),
    }


def test_the_states_clear_and_a_corrected_clock_resolves_after_a_quiet_day(db, patient):
    db.execute("UPDATE devices SET battery_percent = 15, clock_offset_s = 7200, "
               "reported_at = %s WHERE id = 'cuff-1'", (at(6),))  # fmt: skip
    db.execute("UPDATE gateways SET state = 'online', status_at = %s, "
               "status_flags = '{outbox_full}'", (at(6),))  # fmt: skip
    db.commit()
    tick(db, at(7))
    # The next status: battery changed, clock read again and right, outbox drained.
    db.execute("UPDATE devices SET battery_percent = 100, clock_offset_s = 0.4, "
               "reported_at = %s WHERE id = 'cuff-1'", (at(8),))  # fmt: skip
    db.execute("UPDATE gateways SET status_at = %s, status_flags = '{}'", (at(8),))
    db.commit()
    tick(db, at(8.5))
    status = {a.condition: a.status for a in alerts(db) if a.audience == "technical"}
    assert status == {
        TechnicalCondition.BATTERY_LOW: AlertStatus.RESOLVED,
        TechnicalCondition.OUTBOX_FULL: AlertStatus.RESOLVED,
        TechnicalCondition.CLOCK_SKEW: AlertStatus.OPEN,
    }
    tick(db, at(7, day=1))  # a day after the last tick that saw the clock off
    assert of(db, "clock_skew")[0].status is AlertStatus.RESOLVED


def test_an_unacknowledged_red_alert_escalates_on_a_tick(db, patient):
    flush(db, spot(Kind.SPO2, 80.0, device="oximeter-1", at=at(7)), now=at(7))
    assert tick(db, at(7.2)).escalated == 0
    assert tick(db, at(7.25)).escalated == 1
    [red] = of(db, "spo2_low")
    assert red.escalated_at == at(7.25)


@pytest.mark.parametrize(
    ("acknowledged", "settings", "resolved"),
    [
        pytest.param(True, SETTINGS, True, id="acknowledged"),
        pytest.param(False, SETTINGS, False, id="unacknowledged-stays-open"),
        pytest.param(
            False,
            replace(SETTINGS, watchdog=replace(SETTINGS.watchdog, resolve_unacknowledged=True)),
            True,
            id="unacknowledged-when-configured",
        ),
    ],
)
def test_a_breach_resolves_after_a_day_back_in_range(db, patient, acknowledged, settings, resolved):
    flush(db, spot(Kind.SPO2, 85.0, device="oximeter-1", at=at(7)), now=at(7))
    [alert] = of(db, "spo2_low")
    if acknowledged:
        acknowledge(db, alert.id, by=add_user(db), at=at(7.1))
    flush(db, spot(Kind.SPO2, 93.0, device="oximeter-1", at=at(8)))
    flush(db, spot(Kind.SPO2, 94.0, device="oximeter-1", at=at(20)))
    tick(db, at(8, day=1) - timedelta(seconds=1), settings)
    assert of(db, "spo2_low")[0].status is not AlertStatus.RESOLVED
    tick(db, at(8, day=1), settings)
    assert (of(db, "spo2_low")[0].status is AlertStatus.RESOLVED) is resolved


def test_a_new_breach_restarts_the_back_in_range_clock(db, patient):
    flush(db, spot(Kind.SPO2, 85.0, device="oximeter-1", at=at(7)), now=at(7))
    [alert] = of(db, "spo2_low")
    acknowledge(db, alert.id, by=add_user(db), at=at(7.1))
    flush(db, spot(Kind.SPO2, 93.0, device="oximeter-1", at=at(8)))
    flush(db, spot(Kind.SPO2, 86.0, device="oximeter-1", at=at(12)))
    flush(db, spot(Kind.SPO2, 93.0, device="oximeter-1", at=at(13)))
    tick(db, at(8, day=1))
    assert of(db, "spo2_low")[0].status is AlertStatus.ACKNOWLEDGED
    tick(db, at(13, day=1))
    assert of(db, "spo2_low")[0].status is AlertStatus.RESOLVED


def test_clock_trouble_resolves_after_a_quiet_day(db, patient):
    flush(db, spot(Kind.SYSTOLIC, 120.0, at=at(7), flags={Flag.RECEIVE_TIME}))
    [skew] = of(db, "clock_skew")
    tick(db, skew.last_at + timedelta(hours=23))
    assert of(db, "clock_skew")[0].status is AlertStatus.OPEN
    tick(db, skew.last_at + timedelta(hours=24))
    assert of(db, "clock_skew")[0].status is AlertStatus.RESOLVED


def test_a_night_of_oximetry_is_summarized_once_after_it_ends(db, patient):
    # 22:00-08:00 Copenhagen = 21:00-07:00 UTC. Ten minutes of samples in the night.
    night_start = at(21, day=-1)
    values = [95.0] * 300 + [86.0] * 20 + [95.0] * 280
    for start in range(0, len(values), 100):
        flush(db, *stream(values[start : start + 100],
                          start=night_start + timedelta(hours=2, seconds=start)))  # fmt: skip
    assert tick(db, at(7.5)).nights == 0  # ended, but not settled for an hour yet
    assert tick(db, at(8)).nights == 1
    assert tick(db, at(9)).nights == 0
    row = db.execute(
        "SELECT night, samples, valid_seconds, t90_seconds, t88_seconds, spo2_min, odi3, odi4 "
        "FROM oximetry_nights WHERE patient_id = %s",
        (patient,),
    ).fetchone()
    assert row == (
        (DAY - timedelta(days=1)).date(),
        600,
        600.0,
        20.0,
        20.0,
        86.0,
        pytest.approx(6.0),  # one event in 600 s of valid time
        pytest.approx(6.0),
    )


def test_an_idle_tick_does_nothing(db):
    assert tick(db, at(12)) == TickReport()
