"""Blood Pressure Service parsers against spec examples, device captures and properties."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import devices.blood_pressure as blood_pressure
from devices.blood_pressure import (
    BEURER_LAYOUT,
    STANDARD_LAYOUT,
    BloodPressureCapability,
    BloodPressureFeature,
    BloodPressureLayout,
    BloodPressureMeasurement,
    Timestamp,
    blood_pressure_readings,
    cuff_pressure_readings,
    encode_blood_pressure_feature,
    encode_blood_pressure_measurement,
    encode_intermediate_cuff_pressure,
    parse_blood_pressure_feature,
    parse_blood_pressure_measurement,
    parse_intermediate_cuff_pressure,
)
from devices.blood_pressure_status import decode_measurement_status, encode_measurement_status
from devices.errors import ParseError
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

VECTORS = json.loads((Path(__file__).parent / "vectors" / "blood_pressure.json").read_text())
LAYOUTS = {"standard": STANDARD_LAYOUT, "beurer": BEURER_LAYOUT}
RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEVICE = "aa:bb:cc:dd:ee:ff"


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _number(value: float | str) -> float | AbsentReason:
    return AbsentReason(value) if isinstance(value, str) else float(value)


def _timestamp(value: str | None) -> datetime | Timestamp | None:
    if value is None:
        return None
    return Timestamp.UNKNOWN if value == "unknown" else datetime.fromisoformat(value)


def _record(expected: dict[str, Any]) -> BloodPressureMeasurement:
    status = expected["status"]
    return BloodPressureMeasurement(
        systolic=_number(expected["systolic"]),
        diastolic=_number(expected["diastolic"]),
        mean_arterial_pressure=_number(expected["mean_arterial_pressure"]),
        unit=Unit(expected["unit"]),
        timestamp=_timestamp(expected["timestamp"]),
        pulse_rate=None if expected["pulse_rate"] is None else _number(expected["pulse_rate"]),
        user_id=expected["user_id"],
        status=None if status is None else frozenset(Flag(f) for f in status),
    )


# --- published and captured vectors ----------------------------------------------------


@pytest.mark.parametrize("vector", _params("measurement"))
def test_measurement_vector(vector):
    data = bytes.fromhex(vector["hex"])
    layout = LAYOUTS[vector["layout"]]
    record = _record(vector["expected"])
    assert parse_blood_pressure_measurement(data, layout=layout) == record
    assert (
        parse_blood_pressure_measurement(
            encode_blood_pressure_measurement(record, layout=layout), layout=layout
        )
        == record
    )
    if vector["canonical"]:
        assert encode_blood_pressure_measurement(record, layout=layout) == data


@pytest.mark.parametrize("vector", _params("intermediate_cuff_pressure"))
def test_intermediate_cuff_pressure_vector(vector):
    data = bytes.fromhex(vector["hex"])
    record = _record(vector["expected"])
    assert parse_intermediate_cuff_pressure(data) == record
    assert encode_intermediate_cuff_pressure(record) == data


@pytest.mark.parametrize("vector", _params("feature"))
def test_feature_vector(vector):
    data = bytes.fromhex(vector["hex"])
    feature = BloodPressureFeature(
        supported=frozenset(BloodPressureCapability(c) for c in vector["expected"])
    )
    assert parse_blood_pressure_feature(data) == feature
    if vector["canonical"]:
        assert encode_blood_pressure_feature(feature) == data


def _parser(vector: dict[str, Any]) -> Callable[[bytes], object]:
    layout = LAYOUTS[vector["layout"]]
    parsers: dict[str, Callable[[bytes], object]] = {
        "2A35": partial(parse_blood_pressure_measurement, layout=layout),
        "2A36": partial(parse_intermediate_cuff_pressure, layout=layout),
        "2A49": parse_blood_pressure_feature,
    }
    return parsers[vector["characteristic"]]


@pytest.mark.parametrize("vector", _params("invalid"))
def test_malformed_value_is_a_parse_error_at_its_offset(vector):
    parse = _parser(vector)
    with pytest.raises(ParseError) as caught:
        parse(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


# --- every combination of the flags ------------------------------------------------------

# Literal wire pieces (GSS layout), so the parser is checked against bytes, not itself.
_PRESSURES = {
    0: bytes.fromhex("7800 5000 5d00"),  # 120, 80, 93 mmHg at exponent 0
    1: bytes.fromhex("a1f0 6bf0 7df0"),  # 16.1, 10.7, 12.5 kPa at exponent -1
}
_TIME = bytes.fromhex("e807 06 0f 11 11 1b")  # 2024-06-15 17:17:27
_PULSE = bytes.fromhex("4800")  # 72 /min
_USER = bytes.fromhex("03")
_STATUS = bytes.fromhex("0400")  # irregular pulse
_DEVICE_TIME = datetime(2024, 6, 15, 17, 17, 27)


def _combination(flags: int) -> tuple[bytes, BloodPressureMeasurement]:
    kpa, time, pulse, user, status = (bool(flags >> bit & 1) for bit in range(5))
    data = b"".join(
        (
            bytes([flags]),
            _PRESSURES[kpa],
            _TIME if time else b"",
            _PULSE if pulse else b"",
            _USER if user else b"",
            _STATUS if status else b"",
        )
    )
    record = BloodPressureMeasurement(
        systolic=16.1 if kpa else 120.0,
        diastolic=10.7 if kpa else 80.0,
        mean_arterial_pressure=12.5 if kpa else 93.0,
        unit=Unit.KPA if kpa else Unit.MMHG,
        timestamp=_DEVICE_TIME if time else None,
        pulse_rate=72.0 if pulse else None,
        user_id=3 if user else None,
        status=frozenset({Flag.IRREGULAR_PULSE}) if status else None,
    )
    return data, record


def _expected_readings(flags: int) -> tuple[Reading, ...]:
    kpa, time, pulse, user, status = (bool(flags >> bit & 1) for bit in range(5))
    reading_flags = {Flag.IRREGULAR_PULSE} if status else set()
    if not time:
        reading_flags.add(Flag.RECEIVE_TIME)
    common: dict[str, Any] = {
        "device_id": DEVICE,
        "measured_at": _DEVICE_TIME.replace(tzinfo=UTC) if time else RECEIVED_AT,
        "device_time": _DEVICE_TIME if time else None,
        "flags": frozenset(reading_flags),
        "user_id": 3 if user else None,
    }
    if kpa:
        pressures = [
            Reading(
                kind=Kind.SYSTOLIC,
                value=120.8,
                unit=Unit.MMHG,
                original_value=16.1,
                original_unit=Unit.KPA,
                **common,
            ),
            Reading(
                kind=Kind.DIASTOLIC,
                value=80.3,
                unit=Unit.MMHG,
                original_value=10.7,
                original_unit=Unit.KPA,
                **common,
            ),
            Reading(
                kind=Kind.MEAN_ARTERIAL_PRESSURE,
                value=93.8,
                unit=Unit.MMHG,
                original_value=12.5,
                original_unit=Unit.KPA,
                **common,
            ),
        ]
    else:
        pressures = [
            Reading(kind=Kind.SYSTOLIC, value=120.0, unit=Unit.MMHG, **common),
            Reading(kind=Kind.DIASTOLIC, value=80.0, unit=Unit.MMHG, **common),
            Reading(kind=Kind.MEAN_ARTERIAL_PRESSURE, value=93.0, unit=Unit.MMHG, **common),
        ]
    if pulse:
        pressures.append(Reading(kind=Kind.PULSE_RATE, value=72.0, unit=Unit.PER_MINUTE, **common))
    return tuple(pressures)


_ALL_FLAGS = [pytest.param(flags, id=f"flags-0x{flags:02x}") for flags in range(32)]


@pytest.mark.parametrize("flags", _ALL_FLAGS)
def test_every_flag_combination_decodes_and_encodes(flags):
    data, record = _combination(flags)
    assert parse_blood_pressure_measurement(data) == record
    assert encode_blood_pressure_measurement(record) == data


@pytest.mark.parametrize("flags", _ALL_FLAGS)
def test_every_flag_combination_gives_the_right_readings(flags):
    data, _ = _combination(flags)
    readings = blood_pressure_readings(
        parse_blood_pressure_measurement(data), device_id=DEVICE, received_at=RECEIVED_AT
    )
    assert readings == _expected_readings(flags)


# --- Measurement Status --------------------------------------------------------------------

_STATUS_BITS = [
    pytest.param(0x0001, Flag.BODY_MOVEMENT, id="bit0-body-movement"),
    pytest.param(0x0002, Flag.CUFF_TOO_LOOSE, id="bit1-cuff-too-loose"),
    pytest.param(0x0004, Flag.IRREGULAR_PULSE, id="bit2-irregular-pulse"),
    pytest.param(0x0008, Flag.PULSE_ABOVE_RANGE, id="bits3-4-0b01-above-range"),
    pytest.param(0x0010, Flag.PULSE_BELOW_RANGE, id="bits3-4-0b10-below-range"),
    pytest.param(0x0020, Flag.IMPROPER_POSITION, id="bit5-improper-position"),
]


@pytest.mark.parametrize(("raw", "flag"), _STATUS_BITS)
def test_each_status_bit_is_its_flag(raw, flag):
    assert decode_measurement_status(raw) == frozenset({flag})
    assert encode_measurement_status({flag}) == raw
    data = bytes.fromhex("10 7800 5000 5d00") + raw.to_bytes(2, "little")
    assert parse_blood_pressure_measurement(data).status == frozenset({flag})


@pytest.mark.parametrize(("raw", "flag"), _STATUS_BITS)
def test_each_beurer_status_bit_is_its_flag(raw, flag):
    data = bytes.fromhex("50 7800 5000 0000 00") + raw.to_bytes(2, "big")
    assert parse_blood_pressure_measurement(data, layout=BEURER_LAYOUT).status == frozenset({flag})


def test_rfu_status_bits_are_ignored_but_the_rest_kept():
    assert decode_measurement_status(0b11 << 3) == frozenset()
    assert decode_measurement_status(0xFFC0 | 0x0021) == {
        Flag.BODY_MOVEMENT,
        Flag.IMPROPER_POSITION,
    }


def test_status_flags_are_on_every_reading():
    data = bytes.fromhex("14 7800 5000 5d00 4800 2300")  # body movement, cuff loose, position
    readings = blood_pressure_readings(
        parse_blood_pressure_measurement(data), device_id=DEVICE, received_at=RECEIVED_AT
    )
    expected = {Flag.BODY_MOVEMENT, Flag.CUFF_TOO_LOOSE, Flag.IMPROPER_POSITION, Flag.RECEIVE_TIME}
    assert [r.kind for r in readings] == [
        Kind.SYSTOLIC,
        Kind.DIASTOLIC,
        Kind.MEAN_ARTERIAL_PRESSURE,
        Kind.PULSE_RATE,
    ]
    assert all(r.flags == expected for r in readings)


# --- special values, units, users, time -------------------------------------------------------


def test_special_values_become_readings_with_an_absent_reason():
    (vector,) = [v for v in VECTORS["measurement"] if v["id"] == "phd-special-values"]
    m = parse_blood_pressure_measurement(bytes.fromhex(vector["hex"]))
    readings = blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)
    common: dict[str, Any] = {
        "device_id": DEVICE,
        "measured_at": RECEIVED_AT,
        "flags": frozenset({Flag.RECEIVE_TIME}),
    }
    assert readings == (
        Reading(
            kind=Kind.SYSTOLIC,
            value=None,
            absent_reason=AbsentReason.NOT_AT_THIS_RESOLUTION,
            unit=Unit.MMHG,
            **common,
        ),
        Reading(
            kind=Kind.DIASTOLIC,
            value=None,
            absent_reason=AbsentReason.POSITIVE_INFINITY,
            unit=Unit.MMHG,
            **common,
        ),
        Reading(
            kind=Kind.MEAN_ARTERIAL_PRESSURE,
            value=None,
            absent_reason=AbsentReason.NEGATIVE_INFINITY,
            unit=Unit.MMHG,
            **common,
        ),
        Reading(
            kind=Kind.PULSE_RATE,
            value=None,
            absent_reason=AbsentReason.RESERVED_VALUE,
            unit=Unit.PER_MINUTE,
            **common,
        ),
    )


def test_nan_systolic_is_never_2047():
    (vector,) = [v for v in VECTORS["measurement"] if v["id"] == "qardioarm-2047-238"]
    m = parse_blood_pressure_measurement(bytes.fromhex(vector["hex"]))
    systolic, diastolic, _ = blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)
    assert (systolic.value, systolic.absent_reason) == (None, AbsentReason.NOT_A_NUMBER)
    assert diastolic.value == 238.0


def test_kpa_flag_converts_to_mmhg_and_keeps_the_original():
    m = parse_blood_pressure_measurement(bytes.fromhex("01 bdf0 7df0 94f0"))
    common: dict[str, Any] = {
        "device_id": DEVICE,
        "measured_at": RECEIVED_AT,
        "flags": frozenset({Flag.RECEIVE_TIME}),
        "unit": Unit.MMHG,
        "original_unit": Unit.KPA,
    }
    assert blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT) == (
        Reading(kind=Kind.SYSTOLIC, value=141.8, original_value=18.9, **common),
        Reading(kind=Kind.DIASTOLIC, value=93.8, original_value=12.5, **common),
        Reading(kind=Kind.MEAN_ARTERIAL_PRESSURE, value=111.0, original_value=14.8, **common),
    )


def test_kpa_special_value_has_no_original():
    m = parse_blood_pressure_measurement(bytes.fromhex("01 ff07 7df0 94f0"))
    systolic = blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)[0]
    assert systolic == Reading(
        device_id=DEVICE,
        kind=Kind.SYSTOLIC,
        value=None,
        absent_reason=AbsentReason.NOT_A_NUMBER,
        unit=Unit.MMHG,
        measured_at=RECEIVED_AT,
        flags=frozenset({Flag.RECEIVE_TIME}),
    )


def test_unknown_user_is_kept_as_255_on_each_reading():
    m = parse_blood_pressure_measurement(bytes.fromhex("09 bdf0 7df0 94f0 ff"))
    assert m.user_id == 255
    assert {
        r.user_id for r in blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)
    } == {255}


def test_device_time_is_read_in_the_device_zone():
    m = parse_blood_pressure_measurement(bytes.fromhex("02 7800 5000 5d00 e807 06 0f 11 11 1b"))
    cest = timezone(timedelta(hours=2))
    readings = blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT, device_tz=cest)
    assert {r.measured_at for r in readings} == {datetime(2024, 6, 15, 15, 17, 27, tzinfo=UTC)}
    assert {r.device_time for r in readings} == {datetime(2024, 6, 15, 17, 17, 27)}
    assert {r.flags for r in readings} == {frozenset()}


def test_unknown_timestamp_differs_from_absent_and_falls_back_to_receive_time():
    unknown = parse_blood_pressure_measurement(
        bytes.fromhex("02 7800 5000 5d00 0000 00 00 00 00 00")
    )
    absent = parse_blood_pressure_measurement(bytes.fromhex("00 7800 5000 5d00"))
    assert (unknown.timestamp, absent.timestamp) == (Timestamp.UNKNOWN, None)
    assert encode_blood_pressure_measurement(unknown)[0] == 0x02
    readings = blood_pressure_readings(unknown, device_id=DEVICE, received_at=RECEIVED_AT)
    assert {(r.measured_at, r.device_time, r.flags) for r in readings} == {
        (RECEIVED_AT, None, frozenset({Flag.RECEIVE_TIME}))
    }


def test_encoder_uses_the_resolution_devices_send():
    record = BloodPressureMeasurement(systolic=128.0, diastolic=17.6, mean_arterial_pressure=9.25)
    assert encode_blood_pressure_measurement(record) == bytes.fromhex("00 8000 b0f0 9de3")


# --- Beurer -----------------------------------------------------------------------------------

_BEURER_IRREGULAR = bytes([86, 118, 0, 80, 0, 0, 0, 234, 7, 8, 11, 20, 27, 0, 0, 60, 0, 0, 4])


def test_beurer_capture_decodes_to_readings():
    m = parse_blood_pressure_measurement(_BEURER_IRREGULAR, layout=BEURER_LAYOUT)
    when = datetime(2026, 8, 11, 20, 27)
    common: dict[str, Any] = {
        "device_id": DEVICE,
        "measured_at": when.replace(tzinfo=UTC),
        "device_time": when,
        "flags": frozenset({Flag.IRREGULAR_PULSE}),
        "user_id": 0,
    }
    assert blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT) == (
        Reading(kind=Kind.SYSTOLIC, value=118.0, unit=Unit.MMHG, **common),
        Reading(kind=Kind.DIASTOLIC, value=80.0, unit=Unit.MMHG, **common),
        Reading(
            kind=Kind.MEAN_ARTERIAL_PRESSURE,
            value=None,
            absent_reason=AbsentReason.DEVICE_INVALID,
            unit=Unit.MMHG,
            **common,
        ),
        Reading(kind=Kind.PULSE_RATE, value=60.0, unit=Unit.PER_MINUTE, **common),
    )


def test_standard_layout_misreads_beurer_byte_order():
    # The capture with its flags made standard-conformant (bit 6 cleared, bit 3 set):
    # the standard layout then reads the swapped pulse 00 3C as 0x3C00 and the swapped
    # status 00 04 as 0x0400 (an RFU bit), so the values differ.
    conformant_flags = bytes([0x1E]) + _BEURER_IRREGULAR[1:]
    standard = parse_blood_pressure_measurement(conformant_flags)
    beurer = parse_blood_pressure_measurement(_BEURER_IRREGULAR, layout=BEURER_LAYOUT)
    assert (standard.pulse_rate, standard.status) == (-1_024_000.0, frozenset())
    assert (beurer.pulse_rate, beurer.status) == (60.0, frozenset({Flag.IRREGULAR_PULSE}))


def test_beurer_layout_encodes_differently_from_standard():
    record = BloodPressureMeasurement(
        systolic=118.0,
        diastolic=80.0,
        mean_arterial_pressure=AbsentReason.DEVICE_INVALID,
        timestamp=datetime(2026, 8, 11, 20, 27),
        pulse_rate=60.0,
        user_id=0,
        status=frozenset({Flag.IRREGULAR_PULSE}),
    )
    assert encode_blood_pressure_measurement(record, layout=BEURER_LAYOUT) == _BEURER_IRREGULAR
    with pytest.raises(ValueError, match="no SFLOAT encoding"):
        encode_blood_pressure_measurement(record)
    record_with_map = BloodPressureMeasurement(
        systolic=118.0,
        diastolic=80.0,
        mean_arterial_pressure=93.0,
        pulse_rate=60.0,
        user_id=0,
        status=frozenset(),
    )
    assert encode_blood_pressure_measurement(record_with_map) == bytes.fromhex(
        "1c 7600 5000 5d00 3c00 00 0000"
    )
    assert encode_blood_pressure_measurement(
        record_with_map, layout=BEURER_LAYOUT
    ) == bytes.fromhex("54 7600 5000 5d00 003c 00 0000")


def test_beurer_layout_cannot_send_what_it_reserves():
    with pytest.raises(ValueError, match="always send a user id"):
        encode_blood_pressure_measurement(
            BloodPressureMeasurement(systolic=120.0, diastolic=80.0, mean_arterial_pressure=93.0),
            layout=BEURER_LAYOUT,
        )
    with pytest.raises(ValueError, match="no MAP"):
        encode_blood_pressure_measurement(
            BloodPressureMeasurement(
                systolic=120.0, diastolic=80.0, mean_arterial_pressure=0.0, user_id=1
            ),
            layout=BEURER_LAYOUT,
        )


def test_beurer_flags_may_also_set_the_user_id_bit():
    data = bytes([0x5E]) + _BEURER_IRREGULAR[1:]
    assert parse_blood_pressure_measurement(
        data, layout=BEURER_LAYOUT
    ) == parse_blood_pressure_measurement(_BEURER_IRREGULAR, layout=BEURER_LAYOUT)


# --- Intermediate Cuff Pressure -----------------------------------------------------------------


def test_cuff_pressure_readings_are_a_continuous_stream():
    m = parse_intermediate_cuff_pressure(bytes.fromhex("05 c9f0 ff07 ff07 4800"))
    common: dict[str, Any] = {
        "device_id": DEVICE,
        "measured_at": RECEIVED_AT,
        "flags": frozenset({Flag.RECEIVE_TIME}),
        "continuous": True,
    }
    assert cuff_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT) == (
        Reading(
            kind=Kind.CUFF_PRESSURE,
            value=150.8,
            unit=Unit.MMHG,
            original_value=20.1,
            original_unit=Unit.KPA,
            **common,
        ),
        Reading(kind=Kind.PULSE_RATE, value=72.0, unit=Unit.PER_MINUTE, **common),
    )


def test_cuff_pressure_without_pulse_is_one_reading():
    m = parse_intermediate_cuff_pressure(bytes.fromhex("00 9600 ff07 ff07"))
    (reading,) = cuff_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)
    assert (reading.kind, reading.value, reading.unit) == (Kind.CUFF_PRESSURE, 150.0, Unit.MMHG)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"systolic": float("nan")}, id="nan-float"),
        pytest.param({"pulse_rate": float("inf")}, id="infinite-pulse"),
        pytest.param({"unit": Unit.PERCENT}, id="percent-unit"),
        pytest.param({"timestamp": datetime(2024, 1, 1, tzinfo=UTC)}, id="aware-timestamp"),
        pytest.param({"timestamp": datetime(2024, 1, 1, 0, 0, 0, 5)}, id="sub-second-timestamp"),
        pytest.param({"timestamp": datetime(1500, 1, 1)}, id="year-before-1582"),
        pytest.param({"user_id": 256}, id="user-id-256"),
        pytest.param({"status": frozenset({Flag.NO_FINGER})}, id="oximeter-flag"),
        pytest.param(
            {"status": frozenset({Flag.PULSE_ABOVE_RANGE, Flag.PULSE_BELOW_RANGE})},
            id="above-and-below",
        ),
    ],
)
def test_record_refuses_what_the_wire_cannot_carry(fields):
    base = {"systolic": 120.0, "diastolic": 80.0, "mean_arterial_pressure": 93.0}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        BloodPressureMeasurement(**(base | fields))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"pulse_rate_byte_order": "middle"}, id="byte-order"),
        pytest.param({"reserved_flags_sent": 0x01}, id="not-an-rfu-bit"),
        pytest.param({"unmeasured_mean_arterial_pressure": 0x10000}, id="raw-too-wide"),
    ],
)
def test_layout_refuses_nonsense(fields):
    with pytest.raises(ValueError):  # noqa: PT011
        BloodPressureLayout(name="odd", **fields)


def test_public_api():
    assert set(blood_pressure.__all__) >= {
        "BloodPressureMeasurement",
        "BloodPressureLayout",
        "STANDARD_LAYOUT",
        "BEURER_LAYOUT",
        "BloodPressureFeature",
        "parse_blood_pressure_measurement",
        "encode_blood_pressure_measurement",
        "blood_pressure_readings",
        "parse_intermediate_cuff_pressure",
        "cuff_pressure_readings",
        "parse_blood_pressure_feature",
        "encode_blood_pressure_feature",
    }
    assert all(hasattr(blood_pressure, name) for name in blood_pressure.__all__)


# --- properties -----------------------------------------------------------------------------------

_SPECIALS = [r for r in AbsentReason if r is not AbsentReason.DEVICE_INVALID]
_values = st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-2045, 2045), st.integers(-8, 7))
_numbers = st.one_of(_values, st.sampled_from(_SPECIALS))
_timestamps = st.one_of(
    st.none(),
    st.just(Timestamp.UNKNOWN),
    st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
        lambda d: d.replace(microsecond=0)
    ),
)
_single_status = [
    Flag.BODY_MOVEMENT,
    Flag.CUFF_TOO_LOOSE,
    Flag.IRREGULAR_PULSE,
    Flag.IMPROPER_POSITION,
]
_statuses = st.one_of(
    st.none(),
    st.builds(
        lambda flags, pulse_range: flags | pulse_range,
        st.frozensets(st.sampled_from(_single_status)),
        st.sampled_from(
            [frozenset(), frozenset({Flag.PULSE_ABOVE_RANGE}), frozenset({Flag.PULSE_BELOW_RANGE})]
        ),
    ),
)


def _measurements(layout: BloodPressureLayout) -> st.SearchStrategy[BloodPressureMeasurement]:
    beurer = layout is BEURER_LAYOUT
    return st.builds(
        BloodPressureMeasurement,
        systolic=_numbers,
        diastolic=_numbers,
        mean_arterial_pressure=(
            st.one_of(
                _values.filter(lambda v: v != 0),
                st.sampled_from([*_SPECIALS, AbsentReason.DEVICE_INVALID]),
            )
            if beurer
            else _numbers
        ),
        unit=st.sampled_from([Unit.MMHG, Unit.KPA]),
        timestamp=_timestamps,
        pulse_rate=st.one_of(st.none(), _numbers),
        user_id=st.integers(0, 255) if beurer else st.one_of(st.none(), st.integers(0, 255)),
        status=_statuses,
    )


@given(_measurements(STANDARD_LAYOUT))
def test_round_trip_standard(m):
    assert parse_blood_pressure_measurement(encode_blood_pressure_measurement(m)) == m
    assert parse_intermediate_cuff_pressure(encode_intermediate_cuff_pressure(m)) == m


@given(_measurements(BEURER_LAYOUT))
def test_round_trip_beurer(m):
    data = encode_blood_pressure_measurement(m, layout=BEURER_LAYOUT)
    assert parse_blood_pressure_measurement(data, layout=BEURER_LAYOUT) == m


@given(st.frozensets(st.sampled_from(BloodPressureCapability)))
def test_feature_round_trip(supported):
    feature = BloodPressureFeature(supported=supported)
    assert parse_blood_pressure_feature(encode_blood_pressure_feature(feature)) == feature


# Arbitrary bytes, and bytes shaped like a value (a flags byte and a plausible length), so
# both the structural checks and the field decoders see garbage.
_garbage = st.one_of(
    st.binary(max_size=24),
    st.builds(
        lambda flags, body: bytes([flags]) + body,
        st.integers(0, 255),
        st.binary(min_size=6, max_size=18),
    ),
)


@pytest.mark.parametrize("layout", [STANDARD_LAYOUT, BEURER_LAYOUT], ids=lambda layout: layout.name)
@given(data=_garbage)
def test_arbitrary_bytes_give_a_measurement_or_a_parse_error(layout, data):
    for parse in (parse_blood_pressure_measurement, parse_intermediate_cuff_pressure):
        try:
            m = parse(data, layout=layout)
        except ParseError:
            continue
        assert isinstance(m, BloodPressureMeasurement)
        readings = blood_pressure_readings(m, device_id=DEVICE, received_at=RECEIVED_AT)
        assert len(readings) == 3 + (m.pulse_rate is not None)


@given(st.binary(max_size=4))
def test_arbitrary_bytes_give_a_feature_or_a_parse_error(data):
    try:
        feature = parse_blood_pressure_feature(data)
    except ParseError:
        assert len(data) != 2
    else:
        assert isinstance(feature, BloodPressureFeature)
