"""When a reading was measured: the device's clock when it sent a usable one, else ours.

A device timestamp is the device's wall clock with no zone (Date Time 0x2A08), so it is
read in the zone the device clock is set to (``device_tz``, UTC unless the gateway knows
better). A reading with no timestamp, with an "unknown" one, or from a device that says
its clock is not set (PLX flag bit 4) gets the gateway's receive time and the
``RECEIVE_TIME`` flag; correcting a drifting clock is the gateway's job, not ours
(HL7 PHD IG, RemotePatientMonitoringConsiderations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from devices.reading import Flag, utc_now


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredAt:
    measured_at: datetime
    device_time: datetime | None
    flags: frozenset[Flag]


def resolve_measured_at(
    device_time: datetime | None,
    *,
    received_at: datetime | None,
    device_tz: tzinfo = UTC,
    clock_not_set: bool = False,
) -> MeasuredAt:
    """Pick ``measured_at`` for a reading and say how it was chosen."""
    if received_at is None:
        received_at = utc_now()
    elif received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    flags: set[Flag] = set()
    if clock_not_set:
        flags.add(Flag.DEVICE_CLOCK_NOT_SET)
    if device_time is None or clock_not_set:
        flags.add(Flag.RECEIVE_TIME)
        return MeasuredAt(
            measured_at=received_at.astimezone(UTC),
            device_time=device_time,
            flags=frozenset(flags),
        )
    return MeasuredAt(
        measured_at=device_time.replace(tzinfo=device_tz).astimezone(UTC),
        device_time=device_time,
        flags=frozenset(flags),
    )
