"""Blood Pressure Feature (0x2A49): what a blood-pressure monitor can detect and do.

A u16 bit field (GSS ``blood_pressure_feature.yaml``; ../shared/reference/ble.md 1.3).
Bits 0-4 say which Measurement Status bits the device can set, bits 5-8 are the BLS
1.1-era additions, bits 9-15 are RFU and ignored. Re-exported by ``devices.blood_pressure``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from devices.errors import ParseError

FEATURE_SIZE = 2  # GSS: uint16


class BloodPressureCapability(StrEnum):
    """One supported-feature bit of 0x2A49."""

    BODY_MOVEMENT_DETECTION = "body_movement_detection"
    CUFF_FIT_DETECTION = "cuff_fit_detection"
    IRREGULAR_PULSE_DETECTION = "irregular_pulse_detection"
    PULSE_RATE_RANGE_DETECTION = "pulse_rate_range_detection"
    MEASUREMENT_POSITION_DETECTION = "measurement_position_detection"
    MULTIPLE_BONDS = "multiple_bonds"
    E2E_CRC = "e2e_crc"
    USER_DATA_SERVICE = "user_data_service"
    USER_FACING_TIME = "user_facing_time"


# GSS blood_pressure_feature.yaml: capability -> bit number.
FEATURE_BITS: MappingProxyType[BloodPressureCapability, int] = MappingProxyType(
    {
        BloodPressureCapability.BODY_MOVEMENT_DETECTION: 0,
        BloodPressureCapability.CUFF_FIT_DETECTION: 1,
        BloodPressureCapability.IRREGULAR_PULSE_DETECTION: 2,
        BloodPressureCapability.PULSE_RATE_RANGE_DETECTION: 3,
        BloodPressureCapability.MEASUREMENT_POSITION_DETECTION: 4,
        BloodPressureCapability.MULTIPLE_BONDS: 5,
        BloodPressureCapability.E2E_CRC: 6,
        BloodPressureCapability.USER_DATA_SERVICE: 7,
        BloodPressureCapability.USER_FACING_TIME: 8,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureFeature:
    """The capabilities a device says it has."""

    supported: frozenset[BloodPressureCapability] = frozenset()

    def __post_init__(self) -> None:
        if unknown := {c for c in self.supported if not isinstance(c, BloodPressureCapability)}:
            raise ValueError(f"not Blood Pressure Feature capabilities: {unknown!r}")

    def supports(self, capability: BloodPressureCapability) -> bool:
        return capability in self.supported


def parse_blood_pressure_feature(data: bytes) -> BloodPressureFeature:
    """Decode a Blood Pressure Feature value (exactly 2 bytes)."""
    if len(data) != FEATURE_SIZE:
        raise ParseError(
            f"Blood Pressure Feature is {FEATURE_SIZE} bytes, got {len(data)}",
            offset=min(len(data), FEATURE_SIZE),
        )
    raw = int.from_bytes(data, "little")
    return BloodPressureFeature(
        supported=frozenset(c for c, bit in FEATURE_BITS.items() if raw >> bit & 1)
    )


def encode_blood_pressure_feature(feature: BloodPressureFeature) -> bytes:
    """The 0x2A49 bytes for ``feature`` (RFU bits zero)."""
    raw = 0
    for capability in feature.supported:
        raw |= 1 << FEATURE_BITS[capability]
    return raw.to_bytes(FEATURE_SIZE, "little")
