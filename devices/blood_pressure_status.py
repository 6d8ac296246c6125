"""The Blood Pressure Measurement Status bits and the flags they carry.

Measurement Status is an optional u16 in both Blood Pressure Measurement (0x2A35) and
Intermediate Cuff Pressure (0x2A36) (GSS ``blood_pressure_measurement.yaml``;
../shared/reference/ble.md 1.3). Bits 0-2 and 5 are single flags; bits 3-4 are one
two-bit field, the pulse rate range: 0b00 in range (no flag), 0b01 above the upper limit,
0b10 below the lower limit, 0b11 RFU. Bits 6-15 are RFU.

A receiver ignores RFU bits and the RFU range value: they decode to no flag and never
fail a parse, and the other bits still count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from devices.reading import Flag

MEASUREMENT_STATUS_SIZE = 2  # GSS: Measurement Status is a uint16


class StatusBits(NamedTuple):
    """One status condition: it holds when ``raw & mask == value``."""

    mask: int
    value: int
    flag: Flag


_PULSE_RATE_RANGE = 0b11 << 3  # bits 3-4, one two-bit field

# GSS blood_pressure_measurement.yaml, Measurement Status.
MEASUREMENT_STATUS_BITS: tuple[StatusBits, ...] = (
    StatusBits(1 << 0, 1 << 0, Flag.BODY_MOVEMENT),
    StatusBits(1 << 1, 1 << 1, Flag.CUFF_TOO_LOOSE),
    StatusBits(1 << 2, 1 << 2, Flag.IRREGULAR_PULSE),
    StatusBits(_PULSE_RATE_RANGE, 0b01 << 3, Flag.PULSE_ABOVE_RANGE),
    StatusBits(_PULSE_RATE_RANGE, 0b10 << 3, Flag.PULSE_BELOW_RANGE),
    StatusBits(1 << 5, 1 << 5, Flag.IMPROPER_POSITION),
)

MEASUREMENT_STATUS_FLAGS = frozenset(bits.flag for bits in MEASUREMENT_STATUS_BITS)


def check_measurement_status(flags: Iterable[Flag]) -> None:
    """Raise ValueError unless ``flags`` can be sent as one Measurement Status."""
    flags = frozenset(flags)
    if foreign := flags - MEASUREMENT_STATUS_FLAGS:
        raise ValueError(f"not Blood Pressure Measurement Status flags: {sorted(foreign)}")
    if {Flag.PULSE_ABOVE_RANGE, Flag.PULSE_BELOW_RANGE} <= flags:
        raise ValueError("the pulse rate cannot be both above and below its range")


def decode_measurement_status(raw: int) -> frozenset[Flag]:
    """The flags ``raw`` carries; RFU bits and the RFU pulse range 0b11 give none."""
    return frozenset(bits.flag for bits in MEASUREMENT_STATUS_BITS if raw & bits.mask == bits.value)


def encode_measurement_status(flags: Iterable[Flag]) -> int:
    """The Measurement Status carrying ``flags`` (RFU bits zero)."""
    flags = frozenset(flags)
    check_measurement_status(flags)
    raw = 0
    for bits in MEASUREMENT_STATUS_BITS:
        if bits.flag in flags:
            raw |= bits.value
    return raw
