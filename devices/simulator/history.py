"""What a household measured before its devices were switched on: their stored records.

Devices delivered to a home that has measured for a while hold records the gateway has
not collected yet: a cuff keeps up to 100 unsent results, an oximeter its stored
spot-checks. ``Routine`` is the household's habit: the cuff at ``blood_pressure`` and the
oximeter at ``spot_checks`` (local wall-clock times in the household's zone) on each of
the ``days`` days before ``until``, each measurement a little after the time, as patients
measure soon after their reminder. ``measurement_times`` turns that into instants.

The times are a pure function of (seed, routine, zone): the same household gives the same
history on every run, so a gateway that downloads it twice stores it once (the storage
key is device, kind and measured time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from devices.simulator.randomness import seeded

# Patients measure up to this long after the reminder (model choice: well inside the
# two-hour window a schedule allows either side, ingest/schedule.py).
LATEST_AFTER = timedelta(minutes=30)
# A cuff holds 100 records (blood_pressure_monitor.CAPACITY): at twice a day, 50 days.
MAX_DAYS = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Routine:
    """When the household measured before its start; ``until`` None: up to the start."""

    days: int
    blood_pressure: tuple[time, ...] = (time(8, 0), time(20, 0))
    spot_checks: tuple[time, ...] = (time(8, 0),)
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.days <= MAX_DAYS:
            raise ValueError(f"days must lie in 0..{MAX_DAYS}, got {self.days}")
        for times in (self.blood_pressure, self.spot_checks):
            if len(set(times)) != len(times):
                raise ValueError("times of day must be distinct")
            if any(t.tzinfo is not None for t in times):
                raise ValueError("times of day are local wall-clock times and must be naive")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("until must be timezone-aware")


def measurement_times(
    routine: Routine,
    times: tuple[time, ...],
    *,
    seed: int,
    stream: str,
    until: datetime,
    tz: tzinfo,
) -> list[datetime]:
    """The instants, oldest first, the household measured ``stream`` at ``times`` of day in
    the ``routine.days`` days before ``until`` (``until`` itself excluded)."""
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    since = until - timedelta(days=routine.days)
    first_day = since.astimezone(tz).date()
    instants = []
    for offset in range(routine.days + 1):
        day = first_day + timedelta(days=offset)
        for at in times:
            reminder = datetime.combine(day, at, tzinfo=tz)
            delay = seeded(f"{seed}/history/{stream}/{day.isoformat()}/{at.isoformat()}").random()
            measured = (reminder + LATEST_AFTER * delay).replace(microsecond=0)
            if since <= measured < until:
                instants.append(measured)
    return sorted(instants)
