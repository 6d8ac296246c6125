"""IEEE 11073-20601 number formats and the Bluetooth Date Time, shared by the SIG profiles.

SFLOAT (16 bit): a signed 4-bit exponent (bits 15-12) and a signed 12-bit mantissa
(bits 11-0), value = mantissa * 10**exponent. FLOAT (32 bit): a signed 8-bit exponent
and a signed 24-bit mantissa. Both reserve exact bit patterns for NaN, NRes
(not at this resolution), +INFINITY, -INFINITY and one reserved value
(HL7 PHD IG "MDER FLOATs and SFLOATs"; ../shared/reference/ble.md 1.1). A special value
decodes to an ``AbsentReason``, never to a number.

Date Time (0x2A08) is 7 bytes: year u16, month, day, hours, minutes, seconds; year,
month or day 0 means "unknown" (GSS date_time.yaml).
"""

from __future__ import annotations

import struct
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from devices.errors import ParseError
from devices.reading import AbsentReason

SFLOAT_SIZE = 2
FLOAT_SIZE = 4
DATE_TIME_SIZE = 7

SFLOAT_SPECIALS: MappingProxyType[int, AbsentReason] = MappingProxyType(
    {
        0x07FF: AbsentReason.NOT_A_NUMBER,
        0x0800: AbsentReason.NOT_AT_THIS_RESOLUTION,
        0x07FE: AbsentReason.POSITIVE_INFINITY,
        0x0802: AbsentReason.NEGATIVE_INFINITY,
        0x0801: AbsentReason.RESERVED_VALUE,
    }
)
FLOAT_SPECIALS: MappingProxyType[int, AbsentReason] = MappingProxyType(
    {
        0x007FFFFF: AbsentReason.NOT_A_NUMBER,
        0x00800000: AbsentReason.NOT_AT_THIS_RESOLUTION,
        0x007FFFFE: AbsentReason.POSITIVE_INFINITY,
        0x00800002: AbsentReason.NEGATIVE_INFINITY,
        0x00800001: AbsentReason.RESERVED_VALUE,
    }
)
_SFLOAT_RAW = {reason: raw for raw, reason in SFLOAT_SPECIALS.items()}
_FLOAT_RAW = {reason: raw for raw, reason in FLOAT_SPECIALS.items()}

# Encoders keep mantissas clear of the special patterns (mantissa +-(2**(n-1) - 1),
# -2**(n-1), +-(2**(n-1) - 2)), whatever the exponent, so no decoder can misread them.
_SFLOAT_MANTISSA_MAX = 2045
_FLOAT_MANTISSA_MAX = 2**23 - 3
_SFLOAT_EXPONENTS = range(-8, 8)
_FLOAT_EXPONENTS = range(-128, 128)

Number = float | AbsentReason


def _sign_extend(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _scaled(mantissa: int, exponent: int) -> float:
    # Decimal text keeps 1234 * 10**-1 == 123.4 exactly rounded (no 123.40000000000001).
    return float(f"{mantissa}e{exponent}")


def _require(data: bytes, offset: int, size: int, what: str) -> None:
    if offset < 0 or len(data) < offset + size:
        raise ParseError(
            f"{what} needs {size} bytes, only {max(len(data) - offset, 0)} left", offset=offset
        )


def sfloat_from_raw(raw: int) -> Number:
    """Decode one SFLOAT given as its 16-bit integer."""
    if raw in SFLOAT_SPECIALS:
        return SFLOAT_SPECIALS[raw]
    return _scaled(_sign_extend(raw & 0x0FFF, 12), _sign_extend(raw >> 12, 4))


def float_from_raw(raw: int) -> Number:
    """Decode one 32-bit FLOAT given as its integer."""
    if raw in FLOAT_SPECIALS:
        return FLOAT_SPECIALS[raw]
    return _scaled(_sign_extend(raw & 0xFFFFFF, 24), _sign_extend(raw >> 24, 8))


def parse_sfloat(data: bytes, offset: int) -> Number:
    """Decode the little-endian SFLOAT at ``offset``."""
    _require(data, offset, SFLOAT_SIZE, "SFLOAT")
    return sfloat_from_raw(int.from_bytes(data[offset : offset + SFLOAT_SIZE], "little"))


def parse_float(data: bytes, offset: int) -> Number:
    """Decode the little-endian 32-bit FLOAT at ``offset``."""
    _require(data, offset, FLOAT_SIZE, "FLOAT")
    return float_from_raw(int.from_bytes(data[offset : offset + FLOAT_SIZE], "little"))


def _preference(exponents: range) -> tuple[int, ...]:
    """Exponent 0 first, then ever finer, then coarser: how devices choose a resolution
    (whole mmHg at exponent 0, kPa and SpO2 at -1: A&D UA-651BLE examples in obniz
    src/parts/Ble/UA651BLE/index.ts, the ChoiceMMed captures in
    tests/devices/vectors/pulse_oximeter.json)."""
    return (0, *range(-1, exponents.start - 1, -1), *range(1, exponents.stop))


_SFLOAT_PREFERENCE = _preference(_SFLOAT_EXPONENTS)
_FLOAT_PREFERENCE = _preference(_FLOAT_EXPONENTS)


def _mantissa_exponent(value: float, *, limit: int, preference: tuple[int, ...]) -> tuple[int, int]:
    """The coarsest representation that holds ``value`` exactly, as a device would send
    it; when none does, the finest that fits (the value rounded at that resolution)."""
    finest: tuple[int, int] | None = None
    for exponent in preference:
        mantissa = round(value / _scaled(1, exponent))
        if abs(mantissa) > limit:
            continue
        if _scaled(mantissa, exponent) == value:
            return mantissa, exponent
        if finest is None or exponent < finest[1]:
            finest = (mantissa, exponent)
    if finest is None:
        raise ValueError(f"{value!r} is out of range")
    return finest


def sfloat_to_raw(value: Number, *, exponent: int | None = None) -> int:
    """Encode a number (or special value) as a 16-bit SFLOAT integer.

    With ``exponent`` the value is quantized at that resolution (devices send e.g.
    SpO2 as 975 * 10**-1); without it, the coarsest resolution that holds the value
    exactly (120 mmHg as 120 * 10**0), else the finest that fits.
    """
    if isinstance(value, AbsentReason):
        if value not in _SFLOAT_RAW:
            raise ValueError(f"{value} has no SFLOAT encoding")
        return _SFLOAT_RAW[value]
    if exponent is None:
        mantissa, exponent = _mantissa_exponent(
            value, limit=_SFLOAT_MANTISSA_MAX, preference=_SFLOAT_PREFERENCE
        )
    else:
        if exponent not in _SFLOAT_EXPONENTS:
            raise ValueError(f"SFLOAT exponent {exponent} is out of range")
        mantissa = round(value / _scaled(1, exponent))
        if abs(mantissa) > _SFLOAT_MANTISSA_MAX:
            raise ValueError(f"{value!r} does not fit an SFLOAT at exponent {exponent}")
    return ((exponent & 0xF) << 12) | (mantissa & 0x0FFF)


def float_to_raw(value: Number, *, exponent: int | None = None) -> int:
    """Encode a number (or special value) as a 32-bit FLOAT integer."""
    if isinstance(value, AbsentReason):
        if value not in _FLOAT_RAW:
            raise ValueError(f"{value} has no FLOAT encoding")
        return _FLOAT_RAW[value]
    if exponent is None:
        mantissa, exponent = _mantissa_exponent(
            value, limit=_FLOAT_MANTISSA_MAX, preference=_FLOAT_PREFERENCE
        )
    else:
        if exponent not in _FLOAT_EXPONENTS:
            raise ValueError(f"FLOAT exponent {exponent} is out of range")
        mantissa = round(value / _scaled(1, exponent))
        if abs(mantissa) > _FLOAT_MANTISSA_MAX:
            raise ValueError(f"{value!r} does not fit a FLOAT at exponent {exponent}")
    return ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF)


def encode_sfloat(value: Number, *, exponent: int | None = None) -> bytes:
    return sfloat_to_raw(value, exponent=exponent).to_bytes(SFLOAT_SIZE, "little")


def encode_float(value: Number, *, exponent: int | None = None) -> bytes:
    return float_to_raw(value, exponent=exponent).to_bytes(FLOAT_SIZE, "little")


class Timestamp(StrEnum):
    """A Date Time field that is present but says "unknown" (year, month or day sent as 0).

    Records keep it apart from an absent field (None, its flag bit clear), so they encode
    back to the flags they came from.
    """

    UNKNOWN = "unknown"


_DATE_TIME = struct.Struct("<HBBBBB")
YEAR_MIN = 1582  # GSS date_time.yaml: 1582-9999, 0 = unknown
YEAR_MAX = 9999


def parse_date_time(data: bytes, offset: int) -> datetime | None:
    """Decode a Date Time (0x2A08) at ``offset``; None when the device says "unknown".

    A field that is neither in range nor the "unknown" 0 raises ParseError, and so
    does a date that does not exist (31 April).
    """
    _require(data, offset, DATE_TIME_SIZE, "Date Time")
    year, month, day, hours, minutes, seconds = _DATE_TIME.unpack_from(data, offset)
    if year != 0 and not YEAR_MIN <= year <= YEAR_MAX:
        raise ParseError(f"year {year} is outside {YEAR_MIN}-{YEAR_MAX}", offset=offset)
    if month > 12:
        raise ParseError(f"month {month} is outside 1-12", offset=offset + 2)
    if day > 31:
        raise ParseError(f"day {day} is outside 1-31", offset=offset + 3)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ParseError(f"time {hours}:{minutes}:{seconds} is impossible", offset=offset + 4)
    if year == 0 or month == 0 or day == 0:
        return None
    try:
        return datetime(year, month, day, hours, minutes, seconds)  # noqa: DTZ001 - device wall clock
    except ValueError as exc:
        raise ParseError(f"impossible date {year}-{month:02}-{day:02}", offset=offset) from exc


def encode_date_time(value: datetime | None) -> bytes:
    """Encode a wall-clock time as Date Time; None encodes "unknown" (all zero)."""
    if value is None:
        return bytes(DATE_TIME_SIZE)
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"year {value.year} cannot be sent as a Date Time")
    return _DATE_TIME.pack(
        value.year, value.month, value.day, value.hour, value.minute, value.second
    )
