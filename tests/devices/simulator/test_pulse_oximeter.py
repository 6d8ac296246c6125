"""The simulated oximeter: RACP storage, the 1 Hz stream, and what each scenario sends."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import ParseError, decode
from devices.battery import parse_battery_level
from devices.current_time import current_time_for, encode_current_time
from devices.device_information import device_information_from
from devices.pulse_oximeter import (
    PlxContinuous,
    PlxFeature,
    PlxSpotCheck,
    parse_plx_continuous,
    parse_plx_features,
    parse_plx_spot_check,
)
from devices.racp import (
    RacpNumberOfRecords,
    RacpOpCode,
    RacpResponse,
    RacpResponseCode,
    parse_racp_response,
)
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from devices.simulator.blood_pressure_monitor import SimulatedBloodPressureMonitor
from devices.simulator.physiology import Physiology
from devices.simulator.pulse_oximeter import (
    CAPACITY,
    CONDITION_STATUS,
    FEATURES,
    Condition,
    SimulatedPulseOximeter,
)
from devices.simulator.scenario import SCENARIOS, Scenario
from devices.simulator.wall_clock import UNSET_EPOCH

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SPOT_CHECK = 0x2A5E
RACP = 0x2A52
NAN = AbsentReason.NOT_A_NUMBER
VECTORS = json.loads((Path(__file__).parent / "vectors" / "racp_server.json").read_text())


def oximeter(
    scenarios: Scenario | tuple[Scenario, ...] = Scenario.NORMAL, seed: int = 1, **options: Any
) -> SimulatedPulseOximeter:
    physiology = Physiology(seed=seed, scenarios=scenarios, anchor=START)
    return SimulatedPulseOximeter(physiology, **options)


def with_spot_checks(
    count: int, **options: Any
) -> tuple[SimulatedPulseOximeter, list[PlxSpotCheck]]:
    device = oximeter(**options)
    live = [device.spot_check(START + timedelta(minutes=13 * i)) for i in range(count)]
    return device, live


def samples(device: SimulatedPulseOximeter, first: int, count: int) -> list[PlxContinuous]:
    start = START + timedelta(seconds=first)
    return [parse_plx_continuous(data) for _, data in device.continuous_samples(start, count)]


def number(value: object) -> float:
    assert isinstance(value, float)
    return value


# --- RACP ----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_racp_dialogue(vector):
    device, _ = with_spot_checks(vector["stored"])
    indications = device.write_racp(bytes.fromhex(vector["request"]))
    assert [data.hex(" ") for uuid, data in indications if uuid == RACP] == vector["racp"]
    assert indications[-1][0] == RACP  # the RACP response comes last
    assert sum(uuid == SPOT_CHECK for uuid, _ in indications) == vector["records"]
    assert len(device.stored) == vector["remaining"]


def test_report_all_sends_every_stored_record_with_the_storage_bit():
    device, live = with_spot_checks(3)
    *records, (_, done) = device.write_racp(bytes.fromhex("01 01"))
    downloaded = [parse_plx_spot_check(data) for uuid, data in records if uuid == SPOT_CHECK]
    assert downloaded == list(device.stored)
    assert downloaded == [
        replace(r, measurement_status=(r.measurement_status or frozenset()) | {Flag.FROM_STORAGE})
        for r in live
    ]
    assert all(Flag.FROM_STORAGE not in (r.measurement_status or ()) for r in live)
    assert parse_racp_response(done) == RacpResponse(
        request_op_code=RacpOpCode.REPORT_STORED_RECORDS, response_code=RacpResponseCode.SUCCESS
    )


def test_download_then_delete_empties_storage():
    device, _ = with_spot_checks(2)
    [(_, count)] = device.write_racp(bytes.fromhex("04 01"))
    assert parse_racp_response(count) == RacpNumberOfRecords(count=2)
    assert len(device.write_racp(bytes.fromhex("01 01"))) == 3
    assert len(device.stored) == 2  # reporting does not delete
    device.write_racp(bytes.fromhex("02 01"))
    assert device.write_racp(bytes.fromhex("04 01")) == [(RACP, bytes.fromhex("05 00 00 00"))]
    assert device.write_racp(bytes.fromhex("01 01")) == [(RACP, bytes.fromhex("06 00 01 06"))]
    later = device.spot_check(START + timedelta(hours=5))
    assert [parse_plx_spot_check(data) for _, data in device.write_racp(b"\x01\x01")[:-1]] == [
        replace(later, measurement_status=frozenset({Flag.FROM_STORAGE}))
    ]


def test_a_downloaded_record_decodes_to_readings_at_its_time():
    device, live = with_spot_checks(1)
    [(_, data), _] = device.write_racp(b"\x01\x01")
    at = START
    received_at = START + timedelta(minutes=30)
    record = live[0]
    spo2 = Reading(
        device_id=device.address,
        kind=Kind.SPO2,
        value=number(record.spo2),
        unit=Unit.PERCENT,
        measured_at=at,
        device_time=at.replace(tzinfo=None),
        flags=frozenset({Flag.FROM_STORAGE}),
    )
    assert decode(SPOT_CHECK, data, device_id=device.address, received_at=received_at) == (
        spo2,
        replace(spo2, kind=Kind.PULSE_RATE, value=number(record.pulse_rate), unit=Unit.PER_MINUTE),
        replace(spo2, kind=Kind.PERFUSION_INDEX, value=number(record.pulse_amplitude_index)),
    )


def test_storage_keeps_the_newest_records():
    device, live = with_spot_checks(CAPACITY + 3)
    assert [r.timestamp for r in device.stored] == [r.timestamp for r in live[3:]]


def test_an_empty_write_is_refused():
    with pytest.raises(ParseError):
        oximeter().write_racp(b"")


@settings(deadline=None)  # no timing in tests
@given(data=st.binary(max_size=24))
def test_any_racp_write_gets_a_response_or_a_parse_error(data):
    device, _ = with_spot_checks(2)
    try:
        indications = device.write_racp(data)
    except ParseError:
        assert data == b""
        return
    *records, (uuid, last) = indications
    assert uuid == RACP
    if data[0] in set(RacpOpCode):
        parse_racp_response(last)
    else:  # an RFU op code, echoed
        assert last == bytes((0x06, 0x00, data[0], 0x02))
    for uuid, value in records:
        assert uuid == SPOT_CHECK
        parse_plx_spot_check(value)


# --- continuous measurement ----------------------------------------------------------


def test_continuous_samples_come_once_a_second_and_decode():
    device = oximeter()
    stream = list(device.continuous_samples(START, 120))
    assert [at for at, _ in stream] == [START + timedelta(seconds=i) for i in range(120)]
    for at, data in stream:
        record = parse_plx_continuous(data)
        assert record == PlxContinuous(
            spo2=record.spo2,
            pulse_rate=record.pulse_rate,
            measurement_status=frozenset(),
            device_sensor_status=frozenset(),
            pulse_amplitude_index=record.pulse_amplitude_index,
        )
        assert 94 <= number(record.spo2) <= 100
        readings = decode(0x2A5F, data, device_id=device.address, received_at=at)
        assert [(r.kind, r.continuous, r.measured_at) for r in readings] == [
            (Kind.SPO2, True, at),
            (Kind.PULSE_RATE, True, at),
            (Kind.PERFUSION_INDEX, True, at),
        ]


def test_the_stream_is_the_same_however_it_is_cut():
    whole = list(oximeter(seed=3).continuous_samples(START, 300))
    device = oximeter(seed=3)
    parts = [
        *device.continuous_samples(START, 100),
        *device.continuous_samples(START + timedelta(seconds=100), 200),
    ]
    assert parts == whole
    assert list(oximeter(seed=4).continuous_samples(START, 300)) != whole


def test_desaturation_is_sustained_below_88_percent_without_flags():
    device = oximeter(Scenario.DESATURATION)
    episode = SCENARIOS[Scenario.DESATURATION].desaturation
    assert episode is not None
    first = int(episode.first_after.total_seconds())
    stream = samples(device, 0, first + int(episode.duration.total_seconds()) + 60)
    below = [number(s.spo2) < 88 for s in stream]
    longest = max(len(list(run)) for low, run in itertools.groupby(below) if low)
    assert longest >= 300  # five minutes: the sustained-breach rule
    assert all(not s.status_flags for s in stream)
    assert min(number(s.spo2) for s in stream[:first]) >= 90
    assert min(number(s.spo2) for s in stream[-60:]) >= 90


def test_motion_dips_are_single_flagged_samples():
    device = oximeter(Scenario.MOTION_ARTEFACT)
    stream = samples(device, 0, 3600)
    flagged = [i for i, s in enumerate(stream) if s.status_flags]
    assert len(flagged) > 30
    assert all(b - a > 1 for a, b in itertools.pairwise(flagged))
    measurement, sensor = CONDITION_STATUS[Condition.ARTEFACT]
    for i in flagged:
        assert stream[i].measurement_status == measurement
        assert stream[i].device_sensor_status == sensor
    low = [i for i, s in enumerate(stream) if number(s.spo2) < 88]
    assert low
    assert set(low) <= set(flagged)  # no dip goes unflagged


def test_probe_off_sends_nan_with_sensor_unconnected():
    device = oximeter(Scenario.ERROR_READING)
    stream = list(device.continuous_samples(START + timedelta(seconds=55), 20))
    records = [parse_plx_continuous(data) for _, data in stream]
    off = [r.spo2 is NAN for r in records]
    assert off == [False] * 5 + [True] * 10 + [False] * 5
    at, data = stream[5]
    readings = decode(0x2A5F, data, device_id=device.address, received_at=at)
    assert {(r.value, r.absent_reason) for r in readings} == {(None, NAN)}
    assert all({Flag.MEASUREMENT_UNAVAILABLE, Flag.SENSOR_UNCONNECTED} <= r.flags for r in readings)


# --- spot-checks and scenarios -------------------------------------------------------


def test_every_second_spot_check_fails_in_error_reading():
    _, live = with_spot_checks(4, scenarios=Scenario.ERROR_READING)
    for record in live[0::2]:
        assert record == PlxSpotCheck(
            spo2=NAN,
            pulse_rate=NAN,
            timestamp=record.timestamp,
            measurement_status=frozenset({Flag.MEASUREMENT_UNAVAILABLE}),
            device_sensor_status=frozenset({Flag.INADEQUATE_SIGNAL}),
            pulse_amplitude_index=NAN,
        )
    assert all(isinstance(record.spo2, float) for record in live[1::2])


def test_an_unset_clock_is_flagged_and_counts_from_2000():
    device = oximeter(Scenario.CLOCK_UNSET)
    at = START + timedelta(hours=3, seconds=7)
    record = device.spot_check(at)
    assert record.device_clock_not_set
    assert record.timestamp == UNSET_EPOCH + timedelta(hours=3, seconds=7)
    [(_, data), _] = device.write_racp(b"\x01\x01")
    received_at = at + timedelta(minutes=1)
    for reading in decode(SPOT_CHECK, data, device_id=device.address, received_at=received_at):
        assert reading.measured_at == received_at
        assert reading.device_time == record.timestamp
        assert {Flag.DEVICE_CLOCK_NOT_SET, Flag.RECEIVE_TIME} <= reading.flags


def test_a_current_time_write_sets_the_oximeter_clock():
    device = oximeter(Scenario.CLOCK_UNSET)
    now = START + timedelta(hours=1)
    device.write_current_time(encode_current_time(current_time_for(now)), now=now)
    record = device.spot_check(now + timedelta(minutes=2))
    assert not record.device_clock_not_set
    assert record.timestamp == (now + timedelta(minutes=2)).replace(tzinfo=None)


def test_features_announce_everything_the_device_sends():
    device = oximeter()
    features = parse_plx_features(device.features())
    assert features == FEATURES
    for feature in (
        PlxFeature.SPOT_CHECK_STORAGE,
        PlxFeature.SPOT_CHECK_TIMESTAMP,
        PlxFeature.PULSE_AMPLITUDE_INDEX,
        PlxFeature.MEASUREMENT_STATUS,
        PlxFeature.DEVICE_SENSOR_STATUS,
    ):
        assert feature in features.supported_features
    for measurement, sensor in CONDITION_STATUS.values():
        assert measurement <= (features.measurement_status_support or frozenset())
        assert sensor <= (features.device_sensor_status_support or frozenset())
    assert Flag.FROM_STORAGE in (features.measurement_status_support or frozenset())


def test_battery_and_device_information_read_back():
    device = oximeter(seed=8)
    level = parse_battery_level(device.battery_level())
    assert 60 <= level <= 100
    list(device.continuous_samples(START, 1800))
    assert parse_battery_level(device.battery_level()) == level - 1
    info = device_information_from(device.device_information())
    assert (info.manufacturer, info.model, info.firmware_revision) == (
        "Telecare Simulated Devices",
        "SIM-PLX1",
        "2.1.0",
    )
    assert info.serial is not None
    assert re.fullmatch(r"OX\d{8}", info.serial)


def test_the_household_devices_have_different_addresses():
    physiology = Physiology(seed=8, anchor=START)
    cuff = SimulatedBloodPressureMonitor(physiology)
    assert SimulatedPulseOximeter(physiology).address != cuff.address
