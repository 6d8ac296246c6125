"""Readings from a Blood Pressure Measurement (0x2A35) or Intermediate Cuff Pressure (0x2A36).

Pressures sent in kPa become mmHg at 0.1 mmHg resolution and keep what the device sent
in ``original_value``/``original_unit``; a special SFLOAT becomes a reading with no value
and its ``absent_reason``. Every reading of one measurement carries its Measurement
Status flags and user id. Re-exported by ``devices.blood_pressure``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from devices.blood_pressure_measurement import BloodPressureMeasurement
from devices.clock import resolve_measured_at
from devices.ieee11073 import Number
from devices.reading import MMHG_PER_KPA, AbsentReason, Flag, Kind, Reading, Unit


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    """What every reading of one measurement shares."""

    device_id: str
    measured_at: datetime
    device_time: datetime | None
    flags: frozenset[Flag]
    user_id: int | None
    continuous: bool


def _common(
    m: BloodPressureMeasurement,
    *,
    device_id: str,
    received_at: datetime | None,
    device_tz: tzinfo,
    continuous: bool,
) -> _Common:
    when = resolve_measured_at(m.device_time, received_at=received_at, device_tz=device_tz)
    return _Common(
        device_id=device_id,
        measured_at=when.measured_at,
        device_time=when.device_time,
        flags=(m.status or frozenset()) | when.flags,
        user_id=m.user_id,
        continuous=continuous,
    )


def _reading(kind: Kind, number: Number, *, unit: Unit, common: _Common) -> Reading:
    """One reading; kPa becomes mmHg at 0.1 resolution, keeping what the device sent."""
    value: float | None = None
    absent_reason: AbsentReason | None = None
    original_value: float | None = None
    original_unit: Unit | None = None
    if isinstance(number, AbsentReason):
        absent_reason = number
    elif unit is Unit.KPA:
        value, original_value, original_unit = round(number * MMHG_PER_KPA, 1), number, unit
    else:
        value = number
    return Reading(
        device_id=common.device_id,
        kind=kind,
        value=value,
        unit=Unit.MMHG if unit is Unit.KPA else unit,
        measured_at=common.measured_at,
        device_time=common.device_time,
        flags=common.flags,
        absent_reason=absent_reason,
        original_value=original_value,
        original_unit=original_unit,
        user_id=common.user_id,
        continuous=common.continuous,
    )


def blood_pressure_readings(
    m: BloodPressureMeasurement,
    *,
    device_id: str,
    received_at: datetime | None,
    device_tz: tzinfo = UTC,
) -> tuple[Reading, ...]:
    """Systolic, diastolic, MAP and (when sent) pulse rate readings of one measurement.

    Every reading carries the Measurement Status flags and the user id; ``measured_at``
    is the device's timestamp read in ``device_tz``, or ``received_at`` when it has none.
    """
    common = _common(
        m, device_id=device_id, received_at=received_at, device_tz=device_tz, continuous=False
    )
    readings = [
        _reading(Kind.SYSTOLIC, m.systolic, unit=m.unit, common=common),
        _reading(Kind.DIASTOLIC, m.diastolic, unit=m.unit, common=common),
        _reading(Kind.MEAN_ARTERIAL_PRESSURE, m.mean_arterial_pressure, unit=m.unit, common=common),
    ]
    if m.pulse_rate is not None:
        readings.append(
            _reading(Kind.PULSE_RATE, m.pulse_rate, unit=Unit.PER_MINUTE, common=common)
        )
    return tuple(readings)


def cuff_pressure_readings(
    m: BloodPressureMeasurement,
    *,
    device_id: str,
    received_at: datetime | None,
    device_tz: tzinfo = UTC,
) -> tuple[Reading, ...]:
    """The live cuff pressure (and pulse rate, when sent) of one 0x2A36 notification.

    They are ``continuous``: a stream while the cuff inflates, never a spot value that
    could raise an alert on its own (the finished measurement comes as 0x2A35).
    """
    common = _common(
        m, device_id=device_id, received_at=received_at, device_tz=device_tz, continuous=True
    )
    readings = [_reading(Kind.CUFF_PRESSURE, m.systolic, unit=m.unit, common=common)]
    if m.pulse_rate is not None:
        readings.append(
            _reading(Kind.PULSE_RATE, m.pulse_rate, unit=Unit.PER_MINUTE, common=common)
        )
    return tuple(readings)
