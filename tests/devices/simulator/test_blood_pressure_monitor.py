"""The simulated cuff: its bytes decode to what it measured, and each scenario shows."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import ParseError, decode
from devices.battery import parse_battery_level
from devices.blood_pressure import (
    BloodPressureMeasurement,
    Timestamp,
    parse_blood_pressure_feature,
    parse_blood_pressure_measurement,
    parse_intermediate_cuff_pressure,
)
from devices.current_time import CurrentTime, current_time_for, encode_current_time
from devices.device_information import DeviceInformation, device_information_from
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from devices.simulator.blood_pressure_monitor import (
    CAPACITY,
    FEATURE,
    SimulatedBloodPressureMonitor,
)
from devices.simulator.physiology import Physiology
from devices.simulator.scenario import Scenario, combine

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NAN = AbsentReason.NOT_A_NUMBER


def monitor(
    scenarios: Scenario | tuple[Scenario, ...] = Scenario.NORMAL, seed: int = 1, **options: Any
) -> SimulatedBloodPressureMonitor:
    physiology = Physiology(seed=seed, scenarios=scenarios, anchor=START)
    return SimulatedBloodPressureMonitor(physiology, **options)


def measurement_times(
    count: int, *, every: timedelta = timedelta(hours=5, minutes=7)
) -> list[datetime]:
    return [START + timedelta(minutes=1) + every * i for i in range(count)]


def readings_of(
    cuff: SimulatedBloodPressureMonitor, times: list[datetime]
) -> list[tuple[Reading, ...]]:
    """Measure at each time, subscribe once, decode every indication."""
    for at in times:
        cuff.measure(at)
    received_at = times[-1] + timedelta(seconds=5)
    return [
        decode(0x2A35, data, device_id=cuff.address, received_at=received_at)
        for data in cuff.pending_indications()
    ]


def number(value: object) -> float:
    assert isinstance(value, float)
    return value


def by_kind(readings: tuple[Reading, ...]) -> dict[Kind, Reading]:
    return {reading.kind: reading for reading in readings}


def test_a_measurement_decodes_to_the_readings_it_promises():
    cuff = monitor()
    at = START + timedelta(minutes=1)
    record = cuff.measure(at)
    [data] = cuff.pending_indications()
    assert parse_blood_pressure_measurement(data) == record
    systolic, diastolic = number(record.systolic), number(record.diastolic)
    readings = decode(0x2A35, data, device_id=cuff.address, received_at=at)
    systolic_reading = Reading(
        device_id=cuff.address,
        kind=Kind.SYSTOLIC,
        value=systolic,
        unit=Unit.MMHG,
        measured_at=at,
        device_time=at.replace(tzinfo=None),
        flags=frozenset(),
        user_id=1,
    )
    assert readings == (
        systolic_reading,
        replace(systolic_reading, kind=Kind.DIASTOLIC, value=diastolic),
        replace(
            systolic_reading,
            kind=Kind.MEAN_ARTERIAL_PRESSURE,
            value=round(diastolic + (systolic - diastolic) / 3),
        ),
        replace(
            systolic_reading,
            kind=Kind.PULSE_RATE,
            value=number(record.pulse_rate),
            unit=Unit.PER_MINUTE,
        ),
    )


def test_the_wire_layout_is_the_bls_one():
    cuff = monitor()
    record = cuff.measure(START)
    [data] = cuff.pending_indications()
    # flags: time stamp, pulse rate, user id, measurement status; mmHg.
    assert data[0] == 0b0001_1110
    assert len(data) == 19
    assert data[7:14] == bytes.fromhex("ea07 03 02 06 00 00")  # 2026-03-02 06:00:00
    assert int.from_bytes(data[1:3], "little") == int(record.systolic)  # exponent 0


def test_subscribing_sends_unsent_records_once():
    cuff = monitor()
    first = [cuff.measure(at) for at in measurement_times(3)]
    assert cuff.unsent == tuple(first)
    assert [parse_blood_pressure_measurement(d) for d in cuff.pending_indications()] == first
    assert cuff.pending_indications() == []
    assert cuff.unsent == ()
    later = cuff.measure(START + timedelta(days=2))
    assert [parse_blood_pressure_measurement(d) for d in cuff.pending_indications()] == [later]
    assert cuff.stored == (*first, later)


def test_memory_keeps_the_newest_records():
    cuff = monitor()
    records = [cuff.measure(at) for at in measurement_times(CAPACITY + 5, every=timedelta(hours=1))]
    assert cuff.stored == tuple(records[5:])
    assert len(cuff.pending_indications()) == CAPACITY


def monitor_bytes(seed: int, times: list[datetime]) -> list[object]:
    cuff = monitor(seed=seed)
    for at in times:
        cuff.measure(at)
    return [*cuff.intermediate_cuff_pressures(times[0]), *cuff.pending_indications()]


def test_same_seed_same_bytes():
    times = measurement_times(10)
    assert monitor_bytes(42, times) == monitor_bytes(42, times)
    assert monitor_bytes(42, times) != monitor_bytes(43, times)


def test_hypertensive_crisis_readings_are_above_180_over_120():
    for readings in readings_of(monitor(Scenario.HYPERTENSIVE_CRISIS), measurement_times(60)):
        kinds = by_kind(readings)
        assert number(kinds[Kind.SYSTOLIC].value) > 180
        assert number(kinds[Kind.DIASTOLIC].value) > 120


def test_hypotension_readings_have_systolic_below_90():
    for readings in readings_of(monitor(Scenario.HYPOTENSION), measurement_times(60)):
        systolic = by_kind(readings)[Kind.SYSTOLIC].value
        assert systolic is not None
        assert systolic < 90


def test_normal_readings_stay_below_home_hypertension():
    for readings in readings_of(monitor(), measurement_times(60)):
        kinds = by_kind(readings)
        assert 100 <= number(kinds[Kind.SYSTOLIC].value) < 135
        assert 60 <= number(kinds[Kind.DIASTOLIC].value) < 85
        assert all(not reading.flags for reading in readings)


def test_a_failed_inflation_sends_nan_and_decodes_to_absent_readings():
    decoded = readings_of(monitor(Scenario.ERROR_READING), measurement_times(4))
    for readings in decoded[0::2]:
        assert [(r.kind, r.value, r.absent_reason) for r in readings] == [
            (Kind.SYSTOLIC, None, NAN),
            (Kind.DIASTOLIC, None, NAN),
            (Kind.MEAN_ARTERIAL_PRESSURE, None, NAN),
            (Kind.PULSE_RATE, None, NAN),
        ]
    for readings in decoded[1::2]:
        assert all(r.value is not None for r in readings)


def test_failed_inflation_bytes_are_sfloat_nan_never_2047():
    cuff = monitor(Scenario.ERROR_READING)
    cuff.measure(START)
    [data] = cuff.pending_indications()
    assert data[1:7] == bytes.fromhex("ff07 ff07 ff07")
    assert data[14:16] == bytes.fromhex("ff07")


def test_movement_is_flagged_on_every_second_reading():
    cuff = monitor(Scenario.MOTION_ARTEFACT)
    steady = monitor()
    times = measurement_times(6)
    decoded = readings_of(cuff, times)
    plain = readings_of(steady, times)
    for i, (moved, still) in enumerate(zip(decoded, plain, strict=True)):
        flagged = i % 2 == 0
        assert all((Flag.BODY_MOVEMENT in r.flags) == flagged for r in moved)
        moved_systolic = by_kind(moved)[Kind.SYSTOLIC].value or 0
        still_systolic = by_kind(still)[Kind.SYSTOLIC].value or 0
        assert (moved_systolic - still_systolic >= 8) == flagged


def test_an_unset_clock_sends_an_unknown_time_stamp():
    cuff = monitor(Scenario.CLOCK_UNSET)
    at = START + timedelta(hours=1)
    record = cuff.measure(at)
    assert record.timestamp is Timestamp.UNKNOWN
    [data] = cuff.pending_indications()
    assert data[7:14] == bytes(7)  # Date Time year 0: unknown
    received_at = at + timedelta(seconds=5)
    for reading in decode(0x2A35, data, device_id=cuff.address, received_at=received_at):
        assert reading.device_time is None
        assert reading.measured_at == received_at
        assert Flag.RECEIVE_TIME in reading.flags


def test_a_current_time_write_sets_the_clock():
    cuff = monitor(Scenario.CLOCK_UNSET)
    written_at = START + timedelta(hours=1)
    cuff.write_current_time(encode_current_time(current_time_for(written_at)), now=written_at)
    assert cuff.clock.is_set
    at = written_at + timedelta(hours=2)
    cuff.measure(at)
    [data] = cuff.pending_indications()
    readings = decode(0x2A35, data, device_id=cuff.address, received_at=at + timedelta(seconds=9))
    assert {(r.measured_at, r.device_time, r.flags) for r in readings} == {
        (at, at.replace(tzinfo=None), frozenset())
    }


def test_a_current_time_write_moves_a_set_clock():
    cuff = monitor()
    now = START + timedelta(days=1)
    wrong = CurrentTime(date_time=datetime(2030, 1, 1, 12, 0, 0))
    cuff.write_current_time(encode_current_time(wrong), now=now)
    assert cuff.measure(now + timedelta(minutes=1)).timestamp == datetime(2030, 1, 1, 12, 1)


def test_a_current_time_write_that_cannot_set_a_clock_is_refused():
    cuff = monitor(Scenario.CLOCK_UNSET)
    with pytest.raises(ParseError, match="unknown date"):
        cuff.write_current_time(encode_current_time(CurrentTime(date_time=None)), now=START)
    with pytest.raises(ParseError):
        cuff.write_current_time(b"\x01\x02", now=START)
    assert not cuff.clock.is_set


@settings(deadline=None)  # no timing in tests
@given(data=st.binary(max_size=12))
def test_any_current_time_write_sets_the_clock_or_is_refused(data):
    cuff = monitor(Scenario.CLOCK_UNSET)
    try:
        cuff.write_current_time(data, now=START)
    except ParseError:
        assert not cuff.clock.is_set
    else:
        assert cuff.clock.is_set


def test_a_drifting_clock_runs_ahead():
    cuff = monitor(clock_drift_ppm=100)
    at = START + timedelta(days=10)
    # 100 ppm of 864 000 s is 86.4 s, shown in whole seconds.
    assert cuff.measure(at).timestamp == (at + timedelta(seconds=86.4)).replace(
        tzinfo=None, microsecond=0
    )


def test_a_kpa_cuff_sends_kpa_and_the_reading_keeps_it():
    at = START + timedelta(minutes=1)
    mmhg, kpa = monitor(), monitor(unit=Unit.KPA)
    reference = mmhg.measure(at)
    record = kpa.measure(at)
    assert record.unit is Unit.KPA
    [data] = kpa.pending_indications()
    assert data[0] & 0x01  # flag bit 0: kPa
    assert parse_blood_pressure_measurement(data) == record
    systolic = by_kind(decode(0x2A35, data, device_id=kpa.address, received_at=at))[Kind.SYSTOLIC]
    assert systolic.original_unit is Unit.KPA
    assert systolic.original_value == record.systolic
    assert systolic.value == pytest.approx(reference.systolic, abs=0.4)


def test_only_mmhg_or_kpa():
    with pytest.raises(ValueError, match="mm\\[Hg\\] or kPa"):
        monitor(unit=Unit.PERCENT)


def test_intermediate_cuff_pressure_follows_the_cuff_cycle():
    cuff = monitor()
    finish = START + timedelta(minutes=1)
    record = cuff.measure(finish)
    notifications = cuff.intermediate_cuff_pressures(finish)
    times = [at for at, _ in notifications]
    assert times == [times[0] + timedelta(seconds=i) for i in range(len(times))]
    assert times[-1] < finish
    decoded = [parse_intermediate_cuff_pressure(data) for _, data in notifications]
    for value in decoded:
        assert value == BloodPressureMeasurement(
            systolic=value.systolic,
            diastolic=NAN,
            mean_arterial_pressure=NAN,
            user_id=1,
        )
    pressures = [number(value.systolic) for value in decoded]
    peak = max(pressures)
    top = pressures.index(peak)
    assert pressures[: top + 1] == sorted(pressures[: top + 1])
    assert pressures[top:] == sorted(pressures[top:], reverse=True)
    assert peak % 10 == 0
    assert peak >= number(record.systolic) + 30
    assert pressures[-1] < number(record.diastolic)
    readings = decode(0x2A36, notifications[0][1], device_id=cuff.address, received_at=times[0])
    assert [(r.kind, r.continuous) for r in readings] == [(Kind.CUFF_PRESSURE, True)]


def test_feature_battery_and_device_information_read_back():
    cuff = monitor(seed=5)
    assert parse_blood_pressure_feature(cuff.feature()) == FEATURE
    level = parse_battery_level(cuff.battery_level())
    assert 70 <= level <= 100
    for at in measurement_times(5):
        cuff.measure(at)
    assert parse_battery_level(cuff.battery_level()) == level - 1
    assert device_information_from(cuff.device_information()) == DeviceInformation(
        manufacturer="Telecare Simulated Devices",
        model="SIM-BP1",
        serial=cuff.identity.serial,
        hardware_revision="A",
        firmware_revision="1.0.0",
    )
    assert re.fullmatch(r"BP\d{8}", cuff.identity.serial)


def test_the_address_is_a_random_static_one_fixed_by_the_seed():
    address = monitor(seed=9).address
    assert re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", address)
    assert int(address[:2], 16) >> 6 == 0b11
    assert monitor(seed=9).address == address
    assert monitor(seed=10).address != address


def test_the_profile_comes_from_the_physiology():
    cuff = monitor((Scenario.HYPOTENSION, Scenario.CLOCK_UNSET))
    assert cuff.physiology.profile == combine((Scenario.HYPOTENSION, Scenario.CLOCK_UNSET))
    assert not cuff.clock.is_set
