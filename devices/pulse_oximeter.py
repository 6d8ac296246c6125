"""Pulse Oximeter Service (0x1822, PLXS 1.0.1): spot-check, continuous and features.

Each characteristic is decoded into a record that mirrors its wire layout exactly, so
``encode(parse(x))`` gives back the same fields, and records become readings in a
second, separate step:

    0x2A5E PLX Spot-Check   flags u8 | SpO2 | PR | [Date Time] | [Meas. Status u16]
                            | [Device & Sensor Status u24] | [Pulse Amplitude Index]
    0x2A5F PLX Continuous   flags u8 | SpO2 | PR | [fast SpO2 | PR] | [slow SpO2 | PR]
                            | [Meas. Status u16] | [Device & Sensor Status u24] | [PAI]
    0x2A60 PLX Features     supported u16 | [Meas. Status support u16]
                            | [Device & Sensor Status support u24]

Numbers are SFLOATs (SpO2 and PAI in %, PR in beats/min); multi-byte fields are
little-endian. Layouts: SIG-XML ``plx_spot_check_measurement.xml``,
``plx_continuous_measurement.xml`` and ``plx_features.xml``, cross-checked against
packetcraft-inc/stacks ``plxpc_main.c`` (whose features parser wrongly reads the 24-bit
support field as 16 bits) and RivieraWaves ``plxp_common.h``.

This module is the profile's public face: the spot-check and continuous records, their
parsers and encoders. It re-exports the parts that live in

    pulse_oximeter_features     PLX Features (0x2A60)
    pulse_oximeter_readings     record -> readings

and builds on

    pulse_oximeter_status       the two status bit fields (StatusField)
    field_reader                FieldReader: fields in wire order, as the flags say
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag

from devices.errors import ParseError
from devices.field_reader import FieldReader, defined_bits
from devices.ieee11073 import (
    SFLOAT_SPECIALS,
    YEAR_MAX,
    YEAR_MIN,
    Number,
    Timestamp,
    encode_date_time,
    encode_sfloat,
)
from devices.pulse_oximeter_features import (
    PlxFeature,
    PlxFeatures,
    encode_plx_features,
    parse_plx_features,
)
from devices.pulse_oximeter_readings import continuous_readings, spot_check_readings
from devices.pulse_oximeter_status import DEVICE_SENSOR_STATUS, MEASUREMENT_STATUS
from devices.reading import AbsentReason, Flag

__all__ = [
    "ContinuousFlag",
    "PlxContinuous",
    "PlxFeature",
    "PlxFeatures",
    "PlxSpotCheck",
    "SpO2PulseRate",
    "SpotCheckFlag",
    "Timestamp",
    "continuous_readings",
    "encode_plx_continuous",
    "encode_plx_features",
    "encode_plx_spot_check",
    "parse_plx_continuous",
    "parse_plx_features",
    "parse_plx_spot_check",
    "spot_check_readings",
]


class SpotCheckFlag(IntFlag):
    """0x2A5E flags byte; bits 5-7 are RFU (RivieraWaves PLXP_SPOT_MEAS_FLAGS_VALID_MASK 0x1F)."""

    TIMESTAMP = 0x01
    MEASUREMENT_STATUS = 0x02
    DEVICE_SENSOR_STATUS = 0x04
    PULSE_AMPLITUDE_INDEX = 0x08
    DEVICE_CLOCK_NOT_SET = 0x10  # the device's timestamp must be ignored


class ContinuousFlag(IntFlag):
    """0x2A5F flags byte; bits 5-7 are RFU (RivieraWaves PLXP_CONT_MEAS_FLAGS_VALID_MASK 0x1F)."""

    FAST = 0x01
    SLOW = 0x02
    MEASUREMENT_STATUS = 0x04
    DEVICE_SENSOR_STATUS = 0x08
    PULSE_AMPLITUDE_INDEX = 0x10


def _check_number(name: str, value: Number | None) -> None:
    if isinstance(value, AbsentReason):
        if value not in SFLOAT_SPECIALS.values():
            raise ValueError(f"{name}: {value} has no SFLOAT encoding")
    elif value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite or an AbsentReason, got {value!r}")


def _check_measurement(r: PlxSpotCheck | PlxContinuous) -> None:
    _check_number("spo2", r.spo2)
    _check_number("pulse_rate", r.pulse_rate)
    _check_number("pulse_amplitude_index", r.pulse_amplitude_index)
    MEASUREMENT_STATUS.check(r.measurement_status)
    DEVICE_SENSOR_STATUS.check(r.device_sensor_status)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxSpotCheck:
    """One PLX Spot-Check Measurement (0x2A5E); None marks a field the flags leave out.

    ``timestamp`` is the device's wall clock (naive), ``Timestamp.UNKNOWN`` when the field is
    present but says "unknown", None when absent.
    """

    spo2: Number
    pulse_rate: Number
    timestamp: datetime | Timestamp | None = None
    measurement_status: frozenset[Flag] | None = None
    device_sensor_status: frozenset[Flag] | None = None
    pulse_amplitude_index: Number | None = None
    device_clock_not_set: bool = False

    def __post_init__(self) -> None:
        _check_measurement(self)
        if isinstance(self.timestamp, datetime):
            if self.timestamp.tzinfo is not None:
                raise ValueError("timestamp is the device's wall clock and must be naive")
            if self.timestamp.microsecond or not YEAR_MIN <= self.timestamp.year <= YEAR_MAX:
                raise ValueError(f"{self.timestamp} cannot be sent as a Date Time")

    @property
    def status_flags(self) -> frozenset[Flag]:
        """The flags of both status fields."""
        return (self.measurement_status or frozenset()) | (self.device_sensor_status or frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class SpO2PulseRate:
    """An SpO2 and pulse-rate pair (the continuous measurement's fast and slow fields)."""

    spo2: Number
    pulse_rate: Number

    def __post_init__(self) -> None:
        _check_number("spo2", self.spo2)
        _check_number("pulse_rate", self.pulse_rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxContinuous:
    """One PLX Continuous Measurement (0x2A5F); ``spo2``/``pulse_rate`` are the Normal pair."""

    spo2: Number
    pulse_rate: Number
    fast: SpO2PulseRate | None = None
    slow: SpO2PulseRate | None = None
    measurement_status: frozenset[Flag] | None = None
    device_sensor_status: frozenset[Flag] | None = None
    pulse_amplitude_index: Number | None = None

    def __post_init__(self) -> None:
        _check_measurement(self)

    @property
    def status_flags(self) -> frozenset[Flag]:
        """The flags of both status fields."""
        return (self.measurement_status or frozenset()) | (self.device_sensor_status or frozenset())


def _flags_byte(data: bytes, flags: type[IntFlag]) -> int:
    if not data:
        raise ParseError("no flags byte", offset=0)
    rfu = data[0] & ~defined_bits(flags)
    if rfu:
        raise ParseError(f"RFU flag bits 0x{rfu:02x} are set", offset=0)
    return data[0]


def _read_pair(read: FieldReader, flag: int) -> SpO2PulseRate | None:
    if not read.has(flag):
        return None
    return SpO2PulseRate(spo2=read.sfloat(), pulse_rate=read.sfloat())


def parse_plx_spot_check(data: bytes) -> PlxSpotCheck:
    """Decode a PLX Spot-Check Measurement (0x2A5E)."""
    flags = SpotCheckFlag(_flags_byte(data, SpotCheckFlag))
    read = FieldReader(data, 1, flags=flags)
    # Keyword arguments are evaluated left to right: the fields are read in wire order.
    record = PlxSpotCheck(
        spo2=read.sfloat(),
        pulse_rate=read.sfloat(),
        timestamp=read.timestamp(SpotCheckFlag.TIMESTAMP),
        measurement_status=read.status(MEASUREMENT_STATUS, SpotCheckFlag.MEASUREMENT_STATUS),
        device_sensor_status=read.status(DEVICE_SENSOR_STATUS, SpotCheckFlag.DEVICE_SENSOR_STATUS),
        pulse_amplitude_index=read.optional_sfloat(SpotCheckFlag.PULSE_AMPLITUDE_INDEX),
        device_clock_not_set=SpotCheckFlag.DEVICE_CLOCK_NOT_SET in flags,
    )
    read.finish()
    return record


def parse_plx_continuous(data: bytes) -> PlxContinuous:
    """Decode a PLX Continuous Measurement (0x2A5F)."""
    read = FieldReader(data, 1, flags=_flags_byte(data, ContinuousFlag))
    record = PlxContinuous(
        spo2=read.sfloat(),
        pulse_rate=read.sfloat(),
        fast=_read_pair(read, ContinuousFlag.FAST),
        slow=_read_pair(read, ContinuousFlag.SLOW),
        measurement_status=read.status(MEASUREMENT_STATUS, ContinuousFlag.MEASUREMENT_STATUS),
        device_sensor_status=read.status(DEVICE_SENSOR_STATUS, ContinuousFlag.DEVICE_SENSOR_STATUS),
        pulse_amplitude_index=read.optional_sfloat(ContinuousFlag.PULSE_AMPLITUDE_INDEX),
    )
    read.finish()
    return record


def _sfloat_bytes(value: Number | None) -> bytes | None:
    return None if value is None else encode_sfloat(value)


def _assemble(flags: int, head: bytes, optional: tuple[tuple[int, bytes | None], ...]) -> bytes:
    """Flags byte, mandatory fields, then each optional field that is there, its bit set."""
    body = [head]
    for flag, field in optional:
        if field is not None:
            flags |= flag
            body.append(field)
    return bytes([flags]) + b"".join(body)


def _timestamp_bytes(value: datetime | Timestamp | None) -> bytes | None:
    if value is None:
        return None
    return encode_date_time(None if value is Timestamp.UNKNOWN else value)


def _tail(
    r: PlxSpotCheck | PlxContinuous, flags: type[SpotCheckFlag] | type[ContinuousFlag]
) -> tuple[tuple[int, bytes | None], ...]:
    """The optional fields both measurements end with: two status fields and the PAI."""
    return (
        (flags.MEASUREMENT_STATUS, MEASUREMENT_STATUS.to_bytes(r.measurement_status)),
        (flags.DEVICE_SENSOR_STATUS, DEVICE_SENSOR_STATUS.to_bytes(r.device_sensor_status)),
        (flags.PULSE_AMPLITUDE_INDEX, _sfloat_bytes(r.pulse_amplitude_index)),
    )


def encode_plx_spot_check(r: PlxSpotCheck) -> bytes:
    """The 0x2A5E bytes for ``r``; numbers at the finest SFLOAT resolution that fits."""
    return _assemble(
        SpotCheckFlag.DEVICE_CLOCK_NOT_SET if r.device_clock_not_set else 0,
        encode_sfloat(r.spo2) + encode_sfloat(r.pulse_rate),
        ((SpotCheckFlag.TIMESTAMP, _timestamp_bytes(r.timestamp)), *_tail(r, SpotCheckFlag)),
    )


def _pair_bytes(pair: SpO2PulseRate | None) -> bytes | None:
    return None if pair is None else encode_sfloat(pair.spo2) + encode_sfloat(pair.pulse_rate)


def encode_plx_continuous(r: PlxContinuous) -> bytes:
    """The 0x2A5F bytes for ``r``; numbers at the finest SFLOAT resolution that fits."""
    return _assemble(
        0,
        encode_sfloat(r.spo2) + encode_sfloat(r.pulse_rate),
        (
            (ContinuousFlag.FAST, _pair_bytes(r.fast)),
            (ContinuousFlag.SLOW, _pair_bytes(r.slow)),
            *_tail(r, ContinuousFlag),
        ),
    )
