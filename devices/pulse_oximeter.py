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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import IntFlag

from devices.clock import MeasuredAt, resolve_measured_at
from devices.errors import ParseError
from devices.ieee11073 import (
    DATE_TIME_SIZE,
    SFLOAT_SIZE,
    SFLOAT_SPECIALS,
    YEAR_MAX,
    YEAR_MIN,
    Number,
    Timestamp,
    encode_date_time,
    encode_sfloat,
    parse_date_time,
    parse_sfloat,
)
from devices.pulse_oximeter_status import DEVICE_SENSOR_STATUS, MEASUREMENT_STATUS, StatusField
from devices.reading import KIND_CODES, AbsentReason, Flag, Kind, Reading


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


class PlxFeature(IntFlag):
    """0x2A60 Supported Features, bits 0-7; bits 8-15 are RFU and ignored."""

    MEASUREMENT_STATUS = 0x01
    DEVICE_SENSOR_STATUS = 0x02
    SPOT_CHECK_STORAGE = 0x04
    SPOT_CHECK_TIMESTAMP = 0x08
    FAST = 0x10
    SLOW = 0x20
    PULSE_AMPLITUDE_INDEX = 0x40
    MULTIPLE_BONDS = 0x80


def _all_bits(flags: type[IntFlag]) -> int:
    return sum(member.value for member in flags)


def _check_number(name: str, value: Number | None) -> None:
    if isinstance(value, AbsentReason):
        if value not in SFLOAT_SPECIALS.values():
            raise ValueError(f"{name}: {value} has no SFLOAT encoding")
    elif value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite or an AbsentReason, got {value!r}")


def _check_status(value: frozenset[Flag] | None, field: StatusField) -> None:
    if value is not None and not value <= field.flags:
        raise ValueError(f"{field.name} cannot carry {sorted(value - field.flags)}")


def _check_measurement(r: PlxSpotCheck | PlxContinuous) -> None:
    _check_number("spo2", r.spo2)
    _check_number("pulse_rate", r.pulse_rate)
    _check_number("pulse_amplitude_index", r.pulse_amplitude_index)
    _check_status(r.measurement_status, MEASUREMENT_STATUS)
    _check_status(r.device_sensor_status, DEVICE_SENSOR_STATUS)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class PlxFeatures:
    """PLX Features (0x2A60): what the device supports, and which status bits it sets.

    A support bitmap is present exactly when its feature bit says the status is supported.
    """

    supported_features: PlxFeature
    measurement_status_support: frozenset[Flag] | None = None
    device_sensor_status_support: frozenset[Flag] | None = None

    def __post_init__(self) -> None:
        if self.supported_features & ~_all_bits(PlxFeature):
            raise ValueError(f"RFU feature bits are set: {self.supported_features!r}")
        for feature, support, field in (
            (PlxFeature.MEASUREMENT_STATUS, self.measurement_status_support, MEASUREMENT_STATUS),
            (
                PlxFeature.DEVICE_SENSOR_STATUS,
                self.device_sensor_status_support,
                DEVICE_SENSOR_STATUS,
            ),
        ):
            if (feature in self.supported_features) != (support is not None):
                raise ValueError(f"{field.name} support is given exactly when {feature!r} is set")
            _check_status(support, field)


class _Cursor:
    """Reads fields in wire order, the optional ones only when ``flags`` has their bit.

    A field that does not fit is a ParseError at the byte where it starts.
    """

    __slots__ = ("data", "flags", "offset")

    def __init__(self, data: bytes, offset: int, *, flags: int = 0) -> None:
        self.data = data
        self.offset = offset
        self.flags = flags

    def sfloat(self) -> Number:
        value = parse_sfloat(self.data, self.offset)
        self.offset += SFLOAT_SIZE
        return value

    def optional_sfloat(self, flag: int) -> Number | None:
        return self.sfloat() if self.flags & flag else None

    def pair(self, flag: int) -> SpO2PulseRate | None:
        if not self.flags & flag:
            return None
        return SpO2PulseRate(spo2=self.sfloat(), pulse_rate=self.sfloat())

    def timestamp(self, flag: int) -> datetime | Timestamp | None:
        if not self.flags & flag:
            return None
        value = parse_date_time(self.data, self.offset)
        self.offset += DATE_TIME_SIZE
        return Timestamp.UNKNOWN if value is None else value

    def uint(self, size: int, what: str) -> int:
        end = self.offset + size
        if len(self.data) < end:
            left = len(self.data) - self.offset
            raise ParseError(f"{what} needs {size} bytes, only {left} left", offset=self.offset)
        value = int.from_bytes(self.data[self.offset : end], "little")
        self.offset = end
        return value

    def status(self, field: StatusField, flag: int) -> frozenset[Flag] | None:
        return field.decode(self.uint(field.size, field.name)) if self.flags & flag else None

    def finish(self) -> None:
        if self.offset != len(self.data):
            extra = len(self.data) - self.offset
            raise ParseError(
                f"{extra} trailing byte(s) the flags do not announce", offset=self.offset
            )


def _flags_byte(data: bytes, flags: type[IntFlag]) -> int:
    if not data:
        raise ParseError("no flags byte", offset=0)
    rfu = data[0] & ~_all_bits(flags)
    if rfu:
        raise ParseError(f"RFU flag bits 0x{rfu:02x} are set", offset=0)
    return data[0]


def parse_plx_spot_check(data: bytes) -> PlxSpotCheck:
    """Decode a PLX Spot-Check Measurement (0x2A5E)."""
    flags = SpotCheckFlag(_flags_byte(data, SpotCheckFlag))
    read = _Cursor(data, 1, flags=flags)
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
    read = _Cursor(data, 1, flags=_flags_byte(data, ContinuousFlag))
    record = PlxContinuous(
        spo2=read.sfloat(),
        pulse_rate=read.sfloat(),
        fast=read.pair(ContinuousFlag.FAST),
        slow=read.pair(ContinuousFlag.SLOW),
        measurement_status=read.status(MEASUREMENT_STATUS, ContinuousFlag.MEASUREMENT_STATUS),
        device_sensor_status=read.status(DEVICE_SENSOR_STATUS, ContinuousFlag.DEVICE_SENSOR_STATUS),
        pulse_amplitude_index=read.optional_sfloat(ContinuousFlag.PULSE_AMPLITUDE_INDEX),
    )
    read.finish()
    return record


_SUPPORTED_FEATURES_SIZE = 2  # u16, bits 8-15 RFU (SIG-XML plx_features.xml)


def parse_plx_features(data: bytes) -> PlxFeatures:
    """Decode PLX Features (0x2A60): 2, 4, 5 or 7 bytes, as the feature bits say."""
    raw = _Cursor(data, 0).uint(_SUPPORTED_FEATURES_SIZE, "Supported Features")
    features = PlxFeature(raw & _all_bits(PlxFeature))
    read = _Cursor(data, _SUPPORTED_FEATURES_SIZE, flags=features)
    record = PlxFeatures(
        supported_features=features,
        measurement_status_support=read.status(MEASUREMENT_STATUS, PlxFeature.MEASUREMENT_STATUS),
        device_sensor_status_support=read.status(
            DEVICE_SENSOR_STATUS, PlxFeature.DEVICE_SENSOR_STATUS
        ),
    )
    read.finish()
    return record


def _status_bytes(flags: frozenset[Flag] | None, field: StatusField) -> bytes | None:
    return None if flags is None else field.encode(flags).to_bytes(field.size, "little")


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
        (flags.MEASUREMENT_STATUS, _status_bytes(r.measurement_status, MEASUREMENT_STATUS)),
        (flags.DEVICE_SENSOR_STATUS, _status_bytes(r.device_sensor_status, DEVICE_SENSOR_STATUS)),
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


def encode_plx_features(r: PlxFeatures) -> bytes:
    """The 0x2A60 bytes for ``r``."""
    fields = (
        r.supported_features.value.to_bytes(_SUPPORTED_FEATURES_SIZE, "little"),
        _status_bytes(r.measurement_status_support, MEASUREMENT_STATUS),
        _status_bytes(r.device_sensor_status_support, DEVICE_SENSOR_STATUS),
    )
    return b"".join(field for field in fields if field is not None)


def _readings(
    r: PlxSpotCheck | PlxContinuous, *, device_id: str, at: MeasuredAt, continuous: bool
) -> tuple[Reading, ...]:
    """SpO2, pulse rate and, when sent, perfusion index (the PAI), flagged with both status
    fields; a special SFLOAT becomes an absent reason."""
    values = (
        (Kind.SPO2, r.spo2),
        (Kind.PULSE_RATE, r.pulse_rate),
        (Kind.PERFUSION_INDEX, r.pulse_amplitude_index),
    )
    return tuple(
        Reading(
            device_id=device_id,
            kind=kind,
            value=None if isinstance(value, AbsentReason) else value,
            absent_reason=value if isinstance(value, AbsentReason) else None,
            unit=KIND_CODES[kind].unit,  # PLXS units: SpO2 and PAI in %, PR in beats/min
            measured_at=at.measured_at,
            device_time=at.device_time,
            flags=r.status_flags | at.flags,
            continuous=continuous,
        )
        for kind, value in values
        if value is not None
    )


def spot_check_readings(
    r: PlxSpotCheck, *, device_id: str, received_at: datetime, device_tz: tzinfo = UTC
) -> tuple[Reading, ...]:
    """The readings of one spot-check measurement, at the device's time when it has one.

    A timestamp from a device whose clock is not set is kept as ``device_time`` but not
    trusted: ``measured_at`` is then ``received_at`` (devices.clock).
    """
    at = resolve_measured_at(
        r.timestamp if isinstance(r.timestamp, datetime) else None,
        received_at=received_at,
        device_tz=device_tz,
        clock_not_set=r.device_clock_not_set,
    )
    return _readings(r, device_id=device_id, at=at, continuous=False)


def continuous_readings(
    r: PlxContinuous, *, device_id: str, received_at: datetime, device_tz: tzinfo = UTC
) -> tuple[Reading, ...]:
    """The readings of one continuous sample, from its Normal pair, at ``received_at``.

    0x2A5F carries no timestamp. The fast and slow pairs are other averagings of the
    same signal and make no readings of their own.
    """
    at = resolve_measured_at(None, received_at=received_at, device_tz=device_tz)
    return _readings(r, device_id=device_id, at=at, continuous=True)
