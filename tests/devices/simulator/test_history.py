"""What simulated devices hold in memory when they are switched on: a household's history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices import Flag, Kind, Reading, decode
from devices.blood_pressure import encode_blood_pressure_measurement
from devices.pulse_oximeter import encode_plx_spot_check
from devices.simulator import Household, Routine, Scenario
from devices.simulator.blood_pressure_monitor import CAPACITY
from devices.simulator.history import LATEST_AFTER, measurement_times
from devices.simulator.household import Schedule
from devices.uuids import Characteristic

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# 13:00 in Copenhagen: between the morning and the evening measurement.
START = datetime(2026, 11, 29, 12, 0, 0, 400_000, tzinfo=UTC)
TWO_WEEKS = Routine(days=14)  # cuff at 08:00 and 20:00, spot-check at 08:00
SHORT = Schedule(
    blood_pressure_first=timedelta(seconds=20),
    blood_pressure_every=timedelta(minutes=10),
    spot_check_first=timedelta(seconds=40),
    spot_check_every=timedelta(minutes=5),
    download_after=timedelta(seconds=10),
    continuous=False,
)


def home(scenarios=Scenario.NORMAL, *, seed=7, start=START, history=TWO_WEEKS) -> Household:
    return Household(seed=seed, start=start, scenarios=scenarios, tz=COPENHAGEN, history=history)


def cuff_history(household: Household) -> list[Reading]:
    return [
        reading
        for record in household.monitor.unsent
        for reading in decode(
            Characteristic.BLOOD_PRESSURE_MEASUREMENT,
            encode_blood_pressure_measurement(record),
            device_id=household.monitor.address,
            device_tz=COPENHAGEN,
        )
        if reading.kind is Kind.SYSTOLIC
    ]


def spot_check_history(household: Household) -> list[Reading]:
    return [
        reading
        for record in household.oximeter.stored
        for reading in decode(
            Characteristic.PLX_SPOT_CHECK_MEASUREMENT,
            encode_plx_spot_check(record),
            device_id=household.oximeter.address,
            device_tz=COPENHAGEN,
        )
        if reading.kind is Kind.SPO2
    ]


def test_two_weeks_twice_daily_cuff_and_daily_spot_checks_at_the_routine_times():
    household = home()
    cuff, spot_checks = cuff_history(household), spot_check_history(household)
    assert len(cuff) == 28
    assert len(spot_checks) == 14
    for readings, times in ((cuff, TWO_WEEKS.blood_pressure), (spot_checks, (time(8, 0),))):
        measured = [r.measured_at for r in readings]
        assert measured == sorted(measured)
        assert START - timedelta(days=14) <= measured[0]
        assert measured[-1] < START
        for at in measured:
            local = at.astimezone(COPENHAGEN)
            reminders = [datetime.combine(local.date(), t, tzinfo=COPENHAGEN) for t in times]
            assert any(reminder <= local <= reminder + LATEST_AFTER for reminder in reminders)
    assert all(Flag.FROM_STORAGE in r.flags for r in spot_checks)


def test_the_device_timestamps_are_the_measurement_times():
    household = home()
    expected = measurement_times(
        TWO_WEEKS,
        TWO_WEEKS.blood_pressure,
        seed=7,
        stream="cuff",
        until=START,
        tz=COPENHAGEN,
    )
    assert [r.measured_at for r in cuff_history(household)] == expected
    assert all(Flag.RECEIVE_TIME not in r.flags for r in cuff_history(household))


def test_the_same_household_stores_the_same_records_on_every_start():
    # A second start an hour later (a demo run again): the records both hold are identical,
    # so a gateway downloading them twice stores them once.
    first, again = home(), home(start=START + timedelta(hours=1, microseconds=300_000))
    shared = set(first.monitor.unsent) & set(again.monitor.unsent)
    assert len(shared) == len(first.monitor.unsent)
    assert first.oximeter.stored == again.oximeter.stored


def test_until_ends_the_history_before_the_start():
    until = START - timedelta(days=3)
    household = home(history=Routine(days=14, until=until))
    assert max(r.measured_at for r in cuff_history(household)) < until
    assert min(r.measured_at for r in cuff_history(household)) >= until - timedelta(days=14)


def test_an_acute_scenario_began_at_the_start_and_is_not_in_the_history():
    crisis = home((Scenario.HYPERTENSIVE_CRISIS,))
    assert all((r.value or 0) < 135 for r in cuff_history(crisis))
    assert crisis.monitor.measure(START + timedelta(seconds=20)).systolic == pytest.approx(
        crisis.physiology.blood_pressure(START + timedelta(seconds=20)).systolic, abs=0.5
    )
    assert crisis.physiology.blood_pressure(START + timedelta(seconds=20)).systolic > 180
    desaturating = home((Scenario.DESATURATION,))
    assert all((r.value or 0) >= 94 for r in spot_check_history(desaturating))


def test_a_lasting_scenario_is_in_the_history_too():
    moving = cuff_history(home((Scenario.NORMAL, Scenario.MOTION_ARTEFACT)))
    disturbed = [r for r in moving if Flag.BODY_MOVEMENT in r.flags]
    assert 0 < len(disturbed) < len(moving)


def test_a_reset_clock_comes_with_an_empty_memory():
    household = home((Scenario.CLOCK_UNSET,))
    assert household.monitor.unsent == ()
    assert household.oximeter.stored == ()


def test_the_cuff_keeps_its_last_hundred_records():
    routine = Routine(days=50, blood_pressure=(time(7, 0), time(13, 0), time(19, 0)))
    household = home(history=routine)
    times = measurement_times(
        routine, routine.blood_pressure, seed=7, stream="cuff", until=START, tz=COPENHAGEN
    )
    assert len(times) > CAPACITY
    assert [r.measured_at for r in cuff_history(household)] == times[-CAPACITY:]


def test_the_first_connection_and_download_deliver_the_history_with_the_first_measurement():
    household = home()
    events = list(household.events(timedelta(minutes=2), schedule=SHORT))
    indications = [
        e for e in events if e.characteristic == Characteristic.BLOOD_PRESSURE_MEASUREMENT
    ]
    stored = [e for e in events if e.characteristic == Characteristic.PLX_SPOT_CHECK_MEASUREMENT]
    assert len(indications) == 28 + 1
    assert len(stored) == 14 + 1
    assert {e.at for e in indications} == {START + timedelta(seconds=25)}


def test_earlier_records_go_in_before_the_first_measurement():
    household = home(history=None)
    household.monitor.measure(START + timedelta(seconds=20))
    household.oximeter.spot_check(START + timedelta(seconds=40))
    with pytest.raises(ValueError, match="before the first"):
        household.monitor.remember(START - timedelta(days=1), physiology=household.physiology)
    with pytest.raises(ValueError, match="before the first"):
        household.oximeter.remember(START - timedelta(days=1), physiology=household.physiology)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": -1}, "days must lie"),
        ({"days": 51}, "days must lie"),
        ({"days": 1, "blood_pressure": (time(8, 0), time(8, 0))}, "distinct"),
        ({"days": 1, "spot_checks": (time(8, 0, tzinfo=UTC),)}, "naive"),
        ({"days": 1, "until": datetime(2026, 11, 29)}, "timezone-aware"),
    ],
    ids=["negative", "beyond-capacity", "repeated-time", "zoned-time", "naive-until"],
)
def test_a_routine_is_checked(options, message):
    with pytest.raises(ValueError, match=message):
        Routine(**options)
