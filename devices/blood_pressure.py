"""The Blood Pressure Service (0x1810): measurement, intermediate cuff pressure, feature.

Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36) share one
layout (GSS ``blood_pressure_measurement.yaml`` and ``intermediate_cuff_pressure.yaml``;
../shared/reference/ble.md 1.3), 7 to 19 bytes::

    flags u8 | systolic SFLOAT | diastolic SFLOAT | mean arterial pressure SFLOAT
    | [Time Stamp: Date Time, 7 B] (flag bit 1) | [pulse rate SFLOAT] (bit 2)
    | [user id u8] (bit 3) | [Measurement Status u16] (bit 4)

Flag bit 0 gives the unit of the three pressures (0 mmHg, 1 kPa); bits 5-7 are RFU. In
0x2A36 the systolic slot carries the live cuff pressure and diastolic and MAP are NaN.

Parsing is strict about structure (the length must match the flags exactly, RFU flag bits
must be clear) and lenient about content (RFU status bits are ignored). A device that
departs from the spec is described by a ``BloodPressureLayout``, as data.

This module is the profile's public face; its parts are re-exported from:

    blood_pressure_measurement  BloodPressureMeasurement, Timestamp (the record)
    blood_pressure_layout       BloodPressureLayout, STANDARD_LAYOUT, BEURER_LAYOUT
    blood_pressure_status       the Measurement Status bit table
    blood_pressure_feature      Blood Pressure Feature (0x2A49)
    blood_pressure_readings     record -> readings
"""

from __future__ import annotations

from datetime import datetime
from enum import IntFlag

from devices.blood_pressure_feature import (
    FEATURE_BITS,
    BloodPressureCapability,
    BloodPressureFeature,
    encode_blood_pressure_feature,
    parse_blood_pressure_feature,
)
from devices.blood_pressure_layout import (
    BEURER_LAYOUT,
    BEURER_LAYOUT_MODELS,
    RESERVED_FLAGS,
    STANDARD_LAYOUT,
    BloodPressureLayout,
    ByteOrder,
)
from devices.blood_pressure_measurement import USER_ID_UNKNOWN, BloodPressureMeasurement
from devices.blood_pressure_readings import blood_pressure_readings, cuff_pressure_readings
from devices.blood_pressure_status import (
    MEASUREMENT_STATUS_SIZE,
    decode_measurement_status,
    encode_measurement_status,
)
from devices.errors import ParseError
from devices.ieee11073 import (
    DATE_TIME_SIZE,
    SFLOAT_SIZE,
    Number,
    Timestamp,
    encode_date_time,
    parse_date_time,
    sfloat_from_raw,
    sfloat_to_raw,
)
from devices.reading import AbsentReason, Flag, Unit

__all__ = [
    "BEURER_LAYOUT",
    "BEURER_LAYOUT_MODELS",
    "FEATURE_BITS",
    "MEASUREMENT_MAX_SIZE",
    "MEASUREMENT_MIN_SIZE",
    "STANDARD_LAYOUT",
    "USER_ID_UNKNOWN",
    "BloodPressureCapability",
    "BloodPressureFeature",
    "BloodPressureLayout",
    "BloodPressureMeasurement",
    "Timestamp",
    "blood_pressure_readings",
    "cuff_pressure_readings",
    "encode_blood_pressure_feature",
    "encode_blood_pressure_measurement",
    "encode_intermediate_cuff_pressure",
    "parse_blood_pressure_feature",
    "parse_blood_pressure_measurement",
    "parse_intermediate_cuff_pressure",
]


class _Flags(IntFlag):
    """The 0x2A35/0x2A36 flags byte (GSS blood_pressure_measurement.yaml)."""

    KPA = 1 << 0
    TIME_STAMP = 1 << 1
    PULSE_RATE = 1 << 2
    USER_ID = 1 << 3
    MEASUREMENT_STATUS = 1 << 4


_PRESSURES_OFFSET = 1  # after the flags byte
_USER_ID_SIZE = 1
# Optional fields in wire order, with their sizes.
_OPTIONAL_FIELDS: tuple[tuple[_Flags, int], ...] = (
    (_Flags.TIME_STAMP, DATE_TIME_SIZE),
    (_Flags.PULSE_RATE, SFLOAT_SIZE),
    (_Flags.USER_ID, _USER_ID_SIZE),
    (_Flags.MEASUREMENT_STATUS, MEASUREMENT_STATUS_SIZE),
)
MEASUREMENT_MIN_SIZE = _PRESSURES_OFFSET + 3 * SFLOAT_SIZE  # 7, GSS
MEASUREMENT_MAX_SIZE = MEASUREMENT_MIN_SIZE + sum(size for _, size in _OPTIONAL_FIELDS)  # 19

# --- parsing -------------------------------------------------------------------------


def parse_blood_pressure_measurement(
    data: bytes, *, layout: BloodPressureLayout = STANDARD_LAYOUT
) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement (0x2A35) value."""
    return _parse(data, layout=layout, what="Blood Pressure Measurement")


def parse_intermediate_cuff_pressure(
    data: bytes, *, layout: BloodPressureLayout = STANDARD_LAYOUT
) -> BloodPressureMeasurement:
    """Decode an Intermediate Cuff Pressure (0x2A36) value: the cuff pressure is in
    ``systolic``. Diastolic and MAP should be NaN; other values are kept, not refused."""
    return _parse(data, layout=layout, what="Intermediate Cuff Pressure")


def _present_fields(flags: int, layout: BloodPressureLayout) -> _Flags:
    present = _Flags(flags & ~RESERVED_FLAGS)
    return (present | _Flags.USER_ID) if layout.user_id_always_present else present


def _parse(data: bytes, *, layout: BloodPressureLayout, what: str) -> BloodPressureMeasurement:
    if not data:
        raise ParseError(f"{what} is empty", offset=0)
    flags = data[0]
    if reserved := flags & RESERVED_FLAGS & ~layout.reserved_flags_sent:
        raise ParseError(f"{what} sets RFU flag bits 0x{reserved:02x}", offset=0)
    present = _present_fields(flags, layout)
    size = MEASUREMENT_MIN_SIZE + sum(size for bit, size in _OPTIONAL_FIELDS if bit in present)
    if len(data) != size:
        raise ParseError(
            f"{what} flags 0x{flags:02x} need {size} bytes, got {len(data)}",
            offset=min(len(data), size),
        )

    def u16(offset: int, order: ByteOrder = "little") -> int:
        return int.from_bytes(data[offset : offset + 2], order)

    mean_arterial_pressure_raw = u16(_PRESSURES_OFFSET + 2 * SFLOAT_SIZE)
    mean_arterial_pressure: Number = (
        AbsentReason.DEVICE_INVALID
        if mean_arterial_pressure_raw == layout.unmeasured_mean_arterial_pressure
        else sfloat_from_raw(mean_arterial_pressure_raw)
    )
    offset = MEASUREMENT_MIN_SIZE
    timestamp: datetime | Timestamp | None = None
    if _Flags.TIME_STAMP in present:
        device_time = parse_date_time(data, offset)
        timestamp = Timestamp.UNKNOWN if device_time is None else device_time
        offset += DATE_TIME_SIZE
    pulse_rate: Number | None = None
    if _Flags.PULSE_RATE in present:
        pulse_rate = sfloat_from_raw(u16(offset, layout.pulse_rate_byte_order))
        offset += SFLOAT_SIZE
    user_id: int | None = None
    if _Flags.USER_ID in present:
        user_id = data[offset]
        offset += _USER_ID_SIZE
    status: frozenset[Flag] | None = None
    if _Flags.MEASUREMENT_STATUS in present:
        status = decode_measurement_status(u16(offset, layout.status_byte_order))
    return BloodPressureMeasurement(
        systolic=sfloat_from_raw(u16(_PRESSURES_OFFSET)),
        diastolic=sfloat_from_raw(u16(_PRESSURES_OFFSET + SFLOAT_SIZE)),
        mean_arterial_pressure=mean_arterial_pressure,
        unit=Unit.KPA if _Flags.KPA in present else Unit.MMHG,
        timestamp=timestamp,
        pulse_rate=pulse_rate,
        user_id=user_id,
        status=status,
    )


# --- encoding ------------------------------------------------------------------------


def encode_blood_pressure_measurement(
    m: BloodPressureMeasurement, *, layout: BloodPressureLayout = STANDARD_LAYOUT
) -> bytes:
    """The 0x2A35 bytes a device with ``layout`` sends for ``m``.

    Raises ValueError for what the wire cannot carry: an AbsentReason with no SFLOAT
    pattern, a value the layout reserves, a missing user id on a layout that always
    sends one.
    """
    flags = layout.reserved_flags_sent | (_Flags.KPA if m.unit is Unit.KPA else 0)
    fields = [
        sfloat_to_raw(m.systolic).to_bytes(SFLOAT_SIZE, "little"),
        sfloat_to_raw(m.diastolic).to_bytes(SFLOAT_SIZE, "little"),
        _mean_arterial_pressure_raw(m.mean_arterial_pressure, layout).to_bytes(
            SFLOAT_SIZE, "little"
        ),
    ]
    if m.timestamp is not None:
        flags |= _Flags.TIME_STAMP
        fields.append(encode_date_time(m.device_time))
    if m.pulse_rate is not None:
        flags |= _Flags.PULSE_RATE
        fields.append(
            sfloat_to_raw(m.pulse_rate).to_bytes(SFLOAT_SIZE, layout.pulse_rate_byte_order)
        )
    if m.user_id is not None:
        flags |= 0 if layout.user_id_always_present else _Flags.USER_ID
        fields.append(m.user_id.to_bytes(_USER_ID_SIZE, "little"))
    elif layout.user_id_always_present:
        raise ValueError(f"{layout.name} devices always send a user id; user_id is None")
    if m.status is not None:
        flags |= _Flags.MEASUREMENT_STATUS
        raw_status = encode_measurement_status(m.status)
        fields.append(raw_status.to_bytes(MEASUREMENT_STATUS_SIZE, layout.status_byte_order))
    return bytes([flags]) + b"".join(fields)


def encode_intermediate_cuff_pressure(
    m: BloodPressureMeasurement, *, layout: BloodPressureLayout = STANDARD_LAYOUT
) -> bytes:
    """The 0x2A36 bytes for ``m`` (the same layout as 0x2A35)."""
    return encode_blood_pressure_measurement(m, layout=layout)


def _mean_arterial_pressure_raw(value: Number, layout: BloodPressureLayout) -> int:
    unmeasured = layout.unmeasured_mean_arterial_pressure
    if unmeasured is not None and value is AbsentReason.DEVICE_INVALID:
        return unmeasured
    raw = sfloat_to_raw(value)
    if raw == unmeasured:
        raise ValueError(f"{layout.name} devices send 0x{raw:04x} as 'no MAP', not as {value!r}")
    return raw
