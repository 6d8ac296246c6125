"""The two PLX status bit fields and the flags they carry.

Both PLX measurements (0x2A5E spot-check, 0x2A5F continuous) may carry a Measurement
Status (u16, bits 0-4 RFU) and a Device and Sensor Status (u24, bits 16-23 RFU); the
PLX Features characteristic (0x2A60) says which bits a device supports with bitmaps of
the same widths and bit positions. Bit positions: SIG-XML
``plx_spot_check_measurement.xml``/``plx_continuous_measurement.xml`` (PLXS 1.0.1),
confirmed by RivieraWaves ``plxp_common.h`` (``PLXP_MEAS_STATUS_VALID_MASK`` 0xFFE0,
``PLXP_DEVICE_STATUS_VALID_MASK`` 0xFFFF).

A receiver ignores RFU bits: they decode to no flag, and so never fail a parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from devices.reading import Flag


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusField:
    """A little-endian status bit field: its width on the wire and its bit -> Flag table."""

    name: str
    size: int
    bits: Mapping[int, Flag]

    def __post_init__(self) -> None:
        if any(not 0 <= bit < self.size * 8 for bit in self.bits):
            raise ValueError(f"{self.name} has a bit outside its {self.size} bytes")
        if len(set(self.bits.values())) != len(self.bits):
            raise ValueError(f"{self.name} maps two bits to one flag")

    @property
    def flags(self) -> frozenset[Flag]:
        """Every flag this field can carry."""
        return frozenset(self.bits.values())

    def decode(self, raw: int) -> frozenset[Flag]:
        """The flags whose bits are set in ``raw``; RFU bits are ignored."""
        return frozenset(flag for bit, flag in self.bits.items() if raw >> bit & 1)

    def encode(self, flags: Iterable[Flag]) -> int:
        """The bit field carrying ``flags``; a flag this field cannot carry is a ValueError."""
        positions = {flag: bit for bit, flag in self.bits.items()}
        raw = 0
        for flag in flags:
            if flag not in positions:
                raise ValueError(f"{self.name} has no bit for {flag}")
            raw |= 1 << positions[flag]
        return raw

    def check(self, flags: frozenset[Flag] | None) -> None:
        """Refuse ``flags`` this field has no bits for; None (the field is absent) passes."""
        if flags is not None and not flags <= self.flags:
            raise ValueError(f"{self.name} cannot carry {sorted(flags - self.flags)}")

    def to_bytes(self, flags: frozenset[Flag] | None) -> bytes | None:
        """The wire bytes carrying ``flags``; None for a field that is absent."""
        return None if flags is None else self.encode(flags).to_bytes(self.size, "little")


# PLXS 1.0.1 PLX Measurement Status, bits 5-15 (bits 0-4 RFU).
MEASUREMENT_STATUS = StatusField(
    name="Measurement Status",
    size=2,
    bits=MappingProxyType(
        {
            5: Flag.MEASUREMENT_ONGOING,
            6: Flag.EARLY_ESTIMATE,
            7: Flag.VALIDATED,
            8: Flag.FULLY_QUALIFIED,
            9: Flag.FROM_STORAGE,
            10: Flag.DEMONSTRATION,
            11: Flag.TESTING,
            12: Flag.CALIBRATION_ONGOING,
            13: Flag.MEASUREMENT_UNAVAILABLE,
            14: Flag.QUESTIONABLE,
            15: Flag.INVALID,
        }
    ),
)

# PLXS 1.0.1 PLX Device and Sensor Status, bits 0-15 of 24 (bits 16-23 RFU).
DEVICE_SENSOR_STATUS = StatusField(
    name="Device and Sensor Status",
    size=3,
    bits=MappingProxyType(
        {
            0: Flag.EXTENDED_DISPLAY_UPDATE,
            1: Flag.EQUIPMENT_MALFUNCTION,
            2: Flag.SIGNAL_PROCESSING_IRREGULARITY,
            3: Flag.INADEQUATE_SIGNAL,
            4: Flag.POOR_SIGNAL,
            5: Flag.LOW_PERFUSION,
            6: Flag.ERRATIC_SIGNAL,
            7: Flag.NONPULSATILE_SIGNAL,
            8: Flag.QUESTIONABLE_PULSE,
            9: Flag.SIGNAL_ANALYSIS_ONGOING,
            10: Flag.SENSOR_INTERFERENCE,
            11: Flag.SENSOR_UNCONNECTED,
            12: Flag.UNKNOWN_SENSOR,
            13: Flag.SENSOR_DISPLACED,
            14: Flag.SENSOR_MALFUNCTION,
            15: Flag.SENSOR_DISCONNECTED,
        }
    ),
)
