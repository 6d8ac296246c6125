"""Pulse Oximeter Service: captures, spec layouts, every flag combination, every status bit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import devices.pulse_oximeter as pulse_oximeter
from devices.errors import ParseError
from devices.ieee11073 import SFLOAT_SPECIALS, Number, Timestamp
from devices.pulse_oximeter import (
    PlxContinuous,
    PlxFeature,
    PlxFeatures,
    PlxSpotCheck,
    SpO2PulseRate,
    continuous_readings,
    encode_plx_continuous,
    encode_plx_features,
    encode_plx_spot_check,
    parse_plx_continuous,
    parse_plx_features,
    parse_plx_spot_check,
    spot_check_readings,
)
from devices.pulse_oximeter_status import DEVICE_SENSOR_STATUS, MEASUREMENT_STATUS
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

VECTORS = json.loads((Path(__file__).parent / "vectors" / "pulse_oximeter.json").read_text())
PARSERS: dict[str, Callable[[bytes], Any]] = {
    "spot_check": parse_plx_spot_check,
    "continuous": parse_plx_continuous,
    "features": parse_plx_features,
}
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "spot_check": encode_plx_spot_check,
    "continuous": encode_plx_continuous,
    "features": encode_plx_features,
}
DEVICE = "oximeter-1"
RECEIVED = datetime(2026, 3, 14, 9, 0, 5, tzinfo=UTC)
COPENHAGEN_WINTER = timezone(timedelta(hours=1))


# --- vectors -------------------------------------------------------------------------


def _number(value: Any) -> Number:
    return AbsentReason(value["absent"]) if isinstance(value, dict) else float(value)


def _optional_number(value: Any) -> Number | None:
    return None if value is None else _number(value)


def _flags(names: list[str] | None) -> frozenset[Flag] | None:
    return None if names is None else frozenset(Flag(name) for name in names)


def _pair(value: Any) -> SpO2PulseRate | None:
    if value is None:
        return None
    return SpO2PulseRate(spo2=_number(value["spo2"]), pulse_rate=_number(value["pulse_rate"]))


def _timestamp(value: str | None) -> datetime | Timestamp | None:
    if value is None:
        return None
    return Timestamp.UNKNOWN if value == "unknown" else datetime.fromisoformat(value)


def _record(characteristic: str, fields: dict[str, Any]) -> Any:
    if characteristic == "spot_check":
        return PlxSpotCheck(
            spo2=_number(fields["spo2"]),
            pulse_rate=_number(fields["pulse_rate"]),
            timestamp=_timestamp(fields.get("timestamp")),
            measurement_status=_flags(fields.get("measurement_status")),
            device_sensor_status=_flags(fields.get("device_sensor_status")),
            pulse_amplitude_index=_optional_number(fields.get("pulse_amplitude_index")),
            device_clock_not_set=fields.get("device_clock_not_set", False),
        )
    if characteristic == "continuous":
        return PlxContinuous(
            spo2=_number(fields["spo2"]),
            pulse_rate=_number(fields["pulse_rate"]),
            fast=_pair(fields.get("fast")),
            slow=_pair(fields.get("slow")),
            measurement_status=_flags(fields.get("measurement_status")),
            device_sensor_status=_flags(fields.get("device_sensor_status")),
            pulse_amplitude_index=_optional_number(fields.get("pulse_amplitude_index")),
        )
    features = PlxFeature(0)
    for name in fields["supported_features"]:
        features |= PlxFeature[name]
    return PlxFeatures(
        supported_features=features,
        measurement_status_support=_flags(fields.get("measurement_status_support")),
        device_sensor_status_support=_flags(fields.get("device_sensor_status_support")),
    )


def _vectors(characteristic: str) -> list[Any]:
    return [
        pytest.param(characteristic, v, id=f"{characteristic}-{v['id']}")
        for v in VECTORS[characteristic]
    ]


ALL_VECTORS = _vectors("spot_check") + _vectors("continuous") + _vectors("features")


@pytest.mark.parametrize(("characteristic", "vector"), ALL_VECTORS)
def test_vector_decodes_to_its_record(characteristic, vector):
    data = bytes.fromhex(vector["hex"])
    assert PARSERS[characteristic](data) == _record(characteristic, vector["expected"])


@pytest.mark.parametrize(("characteristic", "vector"), ALL_VECTORS)
def test_vector_re_encodes_to_the_same_record(characteristic, vector):
    record = PARSERS[characteristic](bytes.fromhex(vector["hex"]))
    encoded = ENCODERS[characteristic](record)
    assert PARSERS[characteristic](encoded) == record
    if vector["canonical"]:
        assert encoded.hex() == vector["hex"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["id"])
def test_invalid_bytes_are_a_parse_error_at_their_offset(vector):
    with pytest.raises(ParseError) as caught:
        PARSERS[vector["characteristic"]](bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


# --- readings --------------------------------------------------------------------------


def _reading(kind: Kind, value: float | None = None, **fields: Any) -> Reading:
    unit = Unit.PER_MINUTE if kind is Kind.PULSE_RATE else Unit.PERCENT
    return Reading(device_id=DEVICE, kind=kind, value=value, unit=unit, **fields)


def test_choicemmed_spot_check_with_unset_clock_is_timed_on_receipt():
    record = parse_plx_spot_check(bytes.fromhex("1761006000e10701010122132000200000"))
    common = {
        "measured_at": RECEIVED,
        "device_time": datetime(2017, 1, 1, 1, 34, 19),
        "flags": frozenset(
            {
                Flag.MEASUREMENT_ONGOING,
                Flag.LOW_PERFUSION,
                Flag.DEVICE_CLOCK_NOT_SET,
                Flag.RECEIVE_TIME,
            }
        ),
    }
    assert spot_check_readings(record, device_id=DEVICE, received_at=RECEIVED) == (
        _reading(Kind.SPO2, 97.0, **common),
        _reading(Kind.PULSE_RATE, 96.0, **common),
    )


def test_spot_check_timestamp_is_read_in_the_device_zone():
    record = parse_plx_spot_check(bytes.fromhex("0facf3bef5e8070b1d170839204022000066e3"))
    common = {
        "measured_at": datetime(2024, 11, 29, 22, 8, 57, tzinfo=UTC),
        "device_time": datetime(2024, 11, 29, 23, 8, 57),
        "flags": frozenset(
            {
                Flag.MEASUREMENT_ONGOING,
                Flag.QUESTIONABLE,
                Flag.EQUIPMENT_MALFUNCTION,
                Flag.LOW_PERFUSION,
            }
        ),
    }
    assert spot_check_readings(
        record, device_id=DEVICE, received_at=RECEIVED, device_tz=COPENHAGEN_WINTER
    ) == (
        _reading(Kind.SPO2, 94.0, **common),
        _reading(Kind.PULSE_RATE, 147.0, **common),
        _reading(Kind.PERFUSION_INDEX, 8.7, **common),
    )


def test_unknown_spot_check_timestamp_means_receive_time():
    record = parse_plx_spot_check(bytes.fromhex("01caf3d0f200000000000000"))
    common = {"measured_at": RECEIVED, "flags": frozenset({Flag.RECEIVE_TIME})}
    assert spot_check_readings(record, device_id=DEVICE, received_at=RECEIVED) == (
        _reading(Kind.SPO2, 97.0, **common),
        _reading(Kind.PULSE_RATE, 72.0, **common),
    )


def test_choicemmed_continuous_sample_is_continuous_and_timed_on_receipt():
    record = parse_plx_continuous(bytes.fromhex("0c62004e002000000000"))
    common = {
        "measured_at": RECEIVED,
        "flags": frozenset({Flag.MEASUREMENT_ONGOING, Flag.RECEIVE_TIME}),
        "continuous": True,
    }
    assert continuous_readings(record, device_id=DEVICE, received_at=RECEIVED) == (
        _reading(Kind.SPO2, 98.0, **common),
        _reading(Kind.PULSE_RATE, 78.0, **common),
    )


def test_continuous_readings_come_from_the_normal_pair_only():
    record = parse_plx_continuous(bytes.fromhex("1fdef3caf3caf35af5d4f3b2f220010000007ae3"))
    common = {
        "measured_at": RECEIVED,
        "flags": frozenset({Flag.MEASUREMENT_ONGOING, Flag.FULLY_QUALIFIED, Flag.RECEIVE_TIME}),
        "continuous": True,
    }
    assert continuous_readings(record, device_id=DEVICE, received_at=RECEIVED) == (
        _reading(Kind.SPO2, 99.0, **common),
        _reading(Kind.PULSE_RATE, 97.0, **common),
        _reading(Kind.PERFUSION_INDEX, 8.9, **common),
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    list(SFLOAT_SPECIALS.items()),
    ids=[reason.value for reason in SFLOAT_SPECIALS.values()],
)
def test_special_values_become_absent_readings(raw, reason):
    special = raw.to_bytes(2, "little")
    spot = parse_plx_spot_check(b"\x08" + special * 3)
    continuous = parse_plx_continuous(b"\x10" + special * 3)
    common = {
        "absent_reason": reason,
        "measured_at": RECEIVED,
        "flags": frozenset({Flag.RECEIVE_TIME}),
    }
    expected = tuple(
        _reading(kind, **common) for kind in (Kind.SPO2, Kind.PULSE_RATE, Kind.PERFUSION_INDEX)
    )
    assert spot_check_readings(spot, device_id=DEVICE, received_at=RECEIVED) == expected
    assert continuous_readings(continuous, device_id=DEVICE, received_at=RECEIVED) == tuple(
        replace(reading, continuous=True) for reading in expected
    )


# --- every combination of the optional-field flags --------------------------------------

# Wire bits pinned as literals (SIG-XML plx_spot_check_measurement.xml).
SPOT_TIMESTAMP, SPOT_MEASUREMENT, SPOT_DEVICE, SPOT_PAI, SPOT_CLOCK_NOT_SET = 1, 2, 4, 8, 16
WHEN = datetime(2026, 3, 14, 8, 15, 30)
MEASUREMENT_FLAGS = frozenset({Flag.VALIDATED, Flag.FROM_STORAGE})
DEVICE_FLAGS = frozenset({Flag.POOR_SIGNAL, Flag.SENSOR_DISPLACED})


@pytest.mark.parametrize("flags", range(32), ids=lambda f: f"flags-0x{f:02x}")
def test_every_spot_check_flag_combination(flags):
    record = PlxSpotCheck(
        spo2=96.5,
        pulse_rate=61.0,
        timestamp=WHEN if flags & SPOT_TIMESTAMP else None,
        measurement_status=MEASUREMENT_FLAGS if flags & SPOT_MEASUREMENT else None,
        device_sensor_status=DEVICE_FLAGS if flags & SPOT_DEVICE else None,
        pulse_amplitude_index=3.4 if flags & SPOT_PAI else None,
        device_clock_not_set=bool(flags & SPOT_CLOCK_NOT_SET),
    )
    data = encode_plx_spot_check(record)
    assert data[0] == flags
    assert len(data) == 5 + sum(
        size
        for bit, size in (
            (SPOT_TIMESTAMP, 7),
            (SPOT_MEASUREMENT, 2),
            (SPOT_DEVICE, 3),
            (SPOT_PAI, 2),
        )
        if flags & bit
    )
    assert parse_plx_spot_check(data) == record

    trusted = bool(flags & SPOT_TIMESTAMP) and not flags & SPOT_CLOCK_NOT_SET
    time_flags = set() if trusted else {Flag.RECEIVE_TIME}
    if flags & SPOT_CLOCK_NOT_SET:
        time_flags.add(Flag.DEVICE_CLOCK_NOT_SET)
    common = {
        "measured_at": datetime(2026, 3, 14, 7, 15, 30, tzinfo=UTC) if trusted else RECEIVED,
        "device_time": WHEN if flags & SPOT_TIMESTAMP else None,
        "flags": (MEASUREMENT_FLAGS if flags & SPOT_MEASUREMENT else frozenset())
        | (DEVICE_FLAGS if flags & SPOT_DEVICE else frozenset())
        | time_flags,
    }
    expected = [_reading(Kind.SPO2, 96.5, **common), _reading(Kind.PULSE_RATE, 61.0, **common)]
    if flags & SPOT_PAI:
        expected.append(_reading(Kind.PERFUSION_INDEX, 3.4, **common))
    assert spot_check_readings(
        parse_plx_spot_check(data),
        device_id=DEVICE,
        received_at=RECEIVED,
        device_tz=COPENHAGEN_WINTER,
    ) == tuple(expected)


# Wire bits pinned as literals (SIG-XML plx_continuous_measurement.xml).
CONT_FAST, CONT_SLOW, CONT_MEASUREMENT, CONT_DEVICE, CONT_PAI = 1, 2, 4, 8, 16


@pytest.mark.parametrize("flags", range(32), ids=lambda f: f"flags-0x{f:02x}")
def test_every_continuous_flag_combination(flags):
    record = PlxContinuous(
        spo2=95.0,
        pulse_rate=70.0,
        fast=SpO2PulseRate(spo2=94.0, pulse_rate=74.0) if flags & CONT_FAST else None,
        slow=SpO2PulseRate(spo2=96.0, pulse_rate=68.0) if flags & CONT_SLOW else None,
        measurement_status=MEASUREMENT_FLAGS if flags & CONT_MEASUREMENT else None,
        device_sensor_status=DEVICE_FLAGS if flags & CONT_DEVICE else None,
        pulse_amplitude_index=1.25 if flags & CONT_PAI else None,
    )
    data = encode_plx_continuous(record)
    assert data[0] == flags
    assert len(data) == 5 + sum(
        size
        for bit, size in (
            (CONT_FAST, 4),
            (CONT_SLOW, 4),
            (CONT_MEASUREMENT, 2),
            (CONT_DEVICE, 3),
            (CONT_PAI, 2),
        )
        if flags & bit
    )
    assert parse_plx_continuous(data) == record

    common = {
        "measured_at": RECEIVED,
        "flags": (MEASUREMENT_FLAGS if flags & CONT_MEASUREMENT else frozenset())
        | (DEVICE_FLAGS if flags & CONT_DEVICE else frozenset())
        | {Flag.RECEIVE_TIME},
        "continuous": True,
    }
    expected = [_reading(Kind.SPO2, 95.0, **common), _reading(Kind.PULSE_RATE, 70.0, **common)]
    if flags & CONT_PAI:
        expected.append(_reading(Kind.PERFUSION_INDEX, 1.25, **common))
    assert continuous_readings(
        parse_plx_continuous(data), device_id=DEVICE, received_at=RECEIVED
    ) == tuple(expected)


# --- every status bit ----------------------------------------------------------------------


def _bit_table(name: str) -> dict[int, Flag]:
    return {int(bit): Flag(flag) for bit, flag in VECTORS[name]["bits"].items()}


MEASUREMENT_BITS = _bit_table("measurement_status_bits")
DEVICE_BITS = _bit_table("device_sensor_status_bits")


@pytest.mark.parametrize("bit", range(16), ids=lambda b: f"bit-{b}")
def test_every_measurement_status_bit(bit):
    raw = (1 << bit).to_bytes(2, "little")
    expected = frozenset({MEASUREMENT_BITS[bit]}) if bit in MEASUREMENT_BITS else frozenset()
    spot = parse_plx_spot_check(bytes.fromhex("02caf3d0f2") + raw)
    continuous = parse_plx_continuous(bytes.fromhex("04caf3d0f2") + raw)
    features = parse_plx_features(bytes.fromhex("0100") + raw)
    assert spot.measurement_status == expected
    assert continuous.measurement_status == expected
    assert features.measurement_status_support == expected
    if expected:
        assert encode_plx_spot_check(spot)[5:] == raw


@pytest.mark.parametrize("bit", range(24), ids=lambda b: f"bit-{b}")
def test_every_device_and_sensor_status_bit(bit):
    raw = (1 << bit).to_bytes(3, "little")
    expected = frozenset({DEVICE_BITS[bit]}) if bit in DEVICE_BITS else frozenset()
    spot = parse_plx_spot_check(bytes.fromhex("04caf3d0f2") + raw)
    continuous = parse_plx_continuous(bytes.fromhex("08caf3d0f2") + raw)
    features = parse_plx_features(bytes.fromhex("0200") + raw)
    assert spot.device_sensor_status == expected
    assert continuous.device_sensor_status == expected
    assert features.device_sensor_status_support == expected
    if expected:
        assert encode_plx_continuous(continuous)[5:] == raw


def test_status_tables_cover_their_flags_exactly():
    assert dict(MEASUREMENT_STATUS.bits) == MEASUREMENT_BITS
    assert dict(DEVICE_SENSOR_STATUS.bits) == DEVICE_BITS


# --- records refuse what the wire cannot carry --------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"spo2": AbsentReason.DEVICE_INVALID}, id="no-sfloat-for-device-invalid"),
        pytest.param({"pulse_rate": float("nan")}, id="float-nan"),
        pytest.param({"pulse_amplitude_index": float("inf")}, id="float-infinity"),
        pytest.param({"measurement_status": frozenset({Flag.LOW_PERFUSION})}, id="wrong-table"),
        pytest.param({"device_sensor_status": frozenset({Flag.INVALID})}, id="wrong-table-2"),
        pytest.param({"timestamp": datetime(2026, 1, 1, tzinfo=UTC)}, id="aware-timestamp"),
        pytest.param({"timestamp": datetime(2026, 1, 1, 0, 0, 0, 5)}, id="sub-second"),
        pytest.param({"timestamp": datetime(1000, 1, 1)}, id="year-before-1582"),
    ],
)
def test_spot_check_record_rejects(fields):
    with pytest.raises(ValueError, match=r"."):
        PlxSpotCheck(**{"spo2": 97.0, "pulse_rate": 60.0, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"supported_features": PlxFeature.MEASUREMENT_STATUS}, id="support-missing"),
        pytest.param(
            {"measurement_status_support": frozenset({Flag.VALIDATED})}, id="support-unannounced"
        ),
        pytest.param(
            {
                "supported_features": PlxFeature.DEVICE_SENSOR_STATUS,
                "device_sensor_status_support": frozenset({Flag.VALIDATED}),
            },
            id="wrong-table",
        ),
        pytest.param({"supported_features": PlxFeature(0x100)}, id="rfu-bit"),
    ],
)
def test_features_record_rejects(fields):
    with pytest.raises(ValueError, match=r"."):
        PlxFeatures(**{"supported_features": PlxFeature(0), **fields})


# --- public surface ------------------------------------------------------------------------


def test_public_api():
    assert set(pulse_oximeter.__all__) >= {
        "PlxSpotCheck",
        "PlxContinuous",
        "SpO2PulseRate",
        "PlxFeature",
        "PlxFeatures",
        "parse_plx_spot_check",
        "parse_plx_continuous",
        "parse_plx_features",
        "encode_plx_spot_check",
        "encode_plx_continuous",
        "encode_plx_features",
        "spot_check_readings",
        "continuous_readings",
    }
    assert all(hasattr(pulse_oximeter, name) for name in pulse_oximeter.__all__)


@pytest.mark.parametrize(
    "module",
    [
        "devices.field_reader",
        "devices.pulse_oximeter_features",
        "devices.pulse_oximeter_readings",
        "devices.pulse_oximeter",
    ],
)
def test_each_part_imports_on_its_own(module):
    # The readings module and this public face refer to each other; neither may need the
    # other imported first.
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


# --- properties ----------------------------------------------------------------------------

sfloat_numbers = st.builds(
    lambda m, e: float(f"{m}e{e}"), st.integers(-2045, 2045), st.integers(-8, 7)
)
numbers = st.one_of(sfloat_numbers, st.sampled_from(sorted(SFLOAT_SPECIALS.values())))
measurement_status = st.none() | st.frozensets(st.sampled_from(sorted(MEASUREMENT_STATUS.flags)))
device_status = st.none() | st.frozensets(st.sampled_from(sorted(DEVICE_SENSOR_STATUS.flags)))
timestamps = st.one_of(
    st.none(),
    st.just(Timestamp.UNKNOWN),
    st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
)
pairs = st.none() | st.builds(SpO2PulseRate, spo2=numbers, pulse_rate=numbers)

spot_checks = st.builds(
    PlxSpotCheck,
    spo2=numbers,
    pulse_rate=numbers,
    timestamp=timestamps,
    measurement_status=measurement_status,
    device_sensor_status=device_status,
    pulse_amplitude_index=st.none() | numbers,
    device_clock_not_set=st.booleans(),
)
continuous_samples = st.builds(
    PlxContinuous,
    spo2=numbers,
    pulse_rate=numbers,
    fast=pairs,
    slow=pairs,
    measurement_status=measurement_status,
    device_sensor_status=device_status,
    pulse_amplitude_index=st.none() | numbers,
)


@st.composite
def features_records(draw: st.DrawFn) -> PlxFeatures:
    features = PlxFeature(draw(st.integers(0, 0xFF)))
    return PlxFeatures(
        supported_features=features,
        measurement_status_support=draw(
            st.frozensets(st.sampled_from(sorted(MEASUREMENT_STATUS.flags)))
        )
        if PlxFeature.MEASUREMENT_STATUS in features
        else None,
        device_sensor_status_support=draw(
            st.frozensets(st.sampled_from(sorted(DEVICE_SENSOR_STATUS.flags)))
        )
        if PlxFeature.DEVICE_SENSOR_STATUS in features
        else None,
    )


@given(spot_checks)
def test_spot_check_round_trip(record):
    assert parse_plx_spot_check(encode_plx_spot_check(record)) == record


@given(continuous_samples)
def test_continuous_round_trip(record):
    assert parse_plx_continuous(encode_plx_continuous(record)) == record


@given(features_records())
def test_features_round_trip(record):
    assert parse_plx_features(encode_plx_features(record)) == record


# Arbitrary bytes, and bytes behind a valid flags byte so the optional fields get exercised.
arbitrary = st.one_of(
    st.binary(max_size=24),
    st.builds(lambda f, rest: bytes([f]) + rest, st.integers(0, 0x1F), st.binary(max_size=22)),
)


@given(arbitrary)
def test_arbitrary_bytes_give_a_spot_check_or_parse_error(data):
    try:
        record = parse_plx_spot_check(data)
    except ParseError:
        return
    readings = spot_check_readings(record, device_id=DEVICE, received_at=RECEIVED)
    assert all(isinstance(r, Reading) for r in readings)


@given(arbitrary)
def test_arbitrary_bytes_give_a_continuous_sample_or_parse_error(data):
    try:
        record = parse_plx_continuous(data)
    except ParseError:
        return
    readings = continuous_readings(record, device_id=DEVICE, received_at=RECEIVED)
    assert all(r.continuous for r in readings)


@given(st.binary(max_size=10))
def test_arbitrary_bytes_give_features_or_parse_error(data):
    try:
        record = parse_plx_features(data)
    except ParseError:
        return
    assert isinstance(record, PlxFeatures)
