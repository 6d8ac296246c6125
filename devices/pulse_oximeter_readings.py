"""Readings from a PLX Spot-Check (0x2A5E) or Continuous (0x2A5F) Measurement.

SpO2, pulse rate and, when sent, perfusion index (the pulse amplitude index), each
flagged with both status fields; a special SFLOAT becomes a reading with no value and its
``absent_reason``. Re-exported by ``devices.pulse_oximeter``.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from devices.clock import MeasuredAt, resolve_measured_at
from devices.reading import KIND_CODES, AbsentReason, Kind, Reading

if TYPE_CHECKING:
    # Annotations only: devices.pulse_oximeter re-exports this module, so importing it
    # at run time would be an import cycle.
    from devices.pulse_oximeter import PlxContinuous, PlxSpotCheck


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
