"""How a blood-pressure monitor lays out 0x2A35/0x2A36 where it departs from the spec.

``STANDARD_LAYOUT`` is the GSS layout (all multi-byte fields little endian, flag bits
5-7 clear). A vendor quirk is one more ``BloodPressureLayout`` value, never a branch in
the parser. Re-exported by ``devices.blood_pressure``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RESERVED_FLAGS = 0b111 << 5  # flag bits 5-7 are RFU (GSS blood_pressure_measurement.yaml)

ByteOrder = Literal["little", "big"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureLayout:
    """How a device lays out 0x2A35/0x2A36 where it departs from the spec."""

    name: str
    pulse_rate_byte_order: ByteOrder = "little"
    status_byte_order: ByteOrder = "little"
    # The user id byte is sent whether or not flag bit 3 is set.
    user_id_always_present: bool = False
    # RFU flag bits the device sets: accepted when parsing, set when encoding.
    reserved_flags_sent: int = 0
    # The raw SFLOAT the device puts in the MAP slot when it computed no MAP; parsed as
    # AbsentReason.DEVICE_INVALID rather than as a number.
    unmeasured_mean_arterial_pressure: int | None = None

    def __post_init__(self) -> None:
        if {self.pulse_rate_byte_order, self.status_byte_order} - {"little", "big"}:
            raise ValueError("byte orders are 'little' or 'big'")
        if self.reserved_flags_sent & ~RESERVED_FLAGS:
            raise ValueError(f"0x{self.reserved_flags_sent:02x} is not within RFU flag bits 5-7")
        raw = self.unmeasured_mean_arterial_pressure
        if raw is not None and not 0 <= raw <= 0xFFFF:
            raise ValueError(f"0x{raw:x} is not a 16-bit SFLOAT")


STANDARD_LAYOUT = BloodPressureLayout(name="standard")

# Beurer sends the pulse rate SFLOAT and the Measurement Status byte-swapped (big endian),
# always sends a user id while leaving flag bit 3 clear, and sets RFU flag bit 6 (flags
# 0x56 in every capture). Source: derdilla/blood-pressure-monitor-fl commit 3ac8958c,
# app/lib/features/bluetooth/logic/characteristics/ble_measurement_data.dart
# (``decode(bigEndian:, alwaysSendsUserId:)``, readSFloatBe/readUInt16Be in
# decoding_util.dart), PRs #735/#737 and the BM85 captures in
# app/test/.../characteristics/ble_measurement_data_test.dart. derdilla tolerates flag
# bit 6 by never checking RFU bits; here it is named. All four BM85 captures send MAP as
# 0x0000 (derdilla ignores MAP): a MAP of 0 mmHg is no measurement, so it is read as
# "not measured" - our inference from those captures, not derdilla's.
BEURER_LAYOUT = BloodPressureLayout(
    name="beurer",
    pulse_rate_byte_order="big",
    status_byte_order="big",
    user_id_always_present=True,
    reserved_flags_sent=1 << 6,
    unmeasured_mean_arterial_pressure=0x0000,
)

# Advertised-name tokens derdilla applies the Beurer quirk to
# (GattBloodPressureProfile.isKnownBigEndianDevice); BM59 was dropped from the list in
# PR #735, where it was noted as already documented working with the standard decoding.
BEURER_LAYOUT_MODELS = ("BM48", "BM85", "ELITE900")
