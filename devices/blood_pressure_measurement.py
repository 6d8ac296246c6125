"""The Blood Pressure Measurement record: one 0x2A35 or 0x2A36 value, field for field.

Pressures stay in the unit the device sent; conversion to mmHg happens when the record
becomes readings (``devices.blood_pressure_readings``). Re-exported by
``devices.blood_pressure``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from devices.blood_pressure_status import check_measurement_status
from devices.ieee11073 import YEAR_MAX, YEAR_MIN, Number, Timestamp
from devices.reading import AbsentReason, Flag, Unit

USER_ID_UNKNOWN = 0xFF  # GSS: user id 0xFF is "unknown user"; kept as 255, never as None

_PRESSURE_UNITS = frozenset({Unit.MMHG, Unit.KPA})


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressureMeasurement:
    """One 0x2A35 (or 0x2A36) value, field for field.

    The pressures are in ``unit`` as sent. ``timestamp`` is the device's naive wall
    clock, ``Timestamp.UNKNOWN`` when the field says "unknown", None when absent.
    ``pulse_rate``, ``user_id`` and ``status`` are None when their fields are absent;
    ``status`` holds the Measurement Status flags (an empty set when present and clear).
    """

    systolic: Number
    diastolic: Number
    mean_arterial_pressure: Number
    unit: Unit = Unit.MMHG
    timestamp: datetime | Timestamp | None = None
    pulse_rate: Number | None = None
    user_id: int | None = None
    status: frozenset[Flag] | None = None

    def __post_init__(self) -> None:
        for name, value in (
            ("systolic", self.systolic),
            ("diastolic", self.diastolic),
            ("mean_arterial_pressure", self.mean_arterial_pressure),
            ("pulse_rate", self.pulse_rate),
        ):
            if not isinstance(value, AbsentReason | None) and not math.isfinite(value):
                raise ValueError(f"{name} must be finite or an AbsentReason, got {value!r}")
        if self.unit not in _PRESSURE_UNITS:
            raise ValueError(f"pressures are in mm[Hg] or kPa, not {self.unit!r}")
        if isinstance(self.timestamp, datetime):
            _check_wall_clock(self.timestamp)
        elif self.timestamp is not None and self.timestamp is not Timestamp.UNKNOWN:
            raise ValueError(f"timestamp must be a datetime, UNKNOWN or None: {self.timestamp!r}")
        if self.user_id is not None and not 0 <= self.user_id <= USER_ID_UNKNOWN:
            raise ValueError(f"user_id must fit a byte, got {self.user_id}")
        if self.status is not None:
            check_measurement_status(self.status)

    @property
    def device_time(self) -> datetime | None:
        """The device's timestamp when it sent a known one."""
        return self.timestamp if isinstance(self.timestamp, datetime) else None


def _check_wall_clock(value: datetime) -> None:
    if value.tzinfo is not None:
        raise ValueError("timestamp is the device's wall clock and must be naive")
    if value.microsecond:
        raise ValueError("a Date Time holds whole seconds")
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"year {value.year} cannot be sent as a Date Time")
