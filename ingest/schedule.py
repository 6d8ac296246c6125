"""Measurement schedules and passive periods: when a patient is expected to measure.

A ``MeasurementSchedule`` says one kind is due at local times of day on some weekdays, in
the patient's zone (a blood-pressure schedule names ``systolic``: every cuff measurement
has one). Each due time is a ``Slot`` with a window of ``grace`` either side; windows of
neighbouring slots never overlap (they meet halfway), so one reading fulfils one slot.
A slot whose window closes with no reading is a missed measurement: a blue alert
(OpenTele's blue alarm, reference: clinical.md 1.6, whose upload window likewise ends at
the deadline and never reaches back past the previous one,
silverbullet-dk/opentele-server QuestionnaireService.hasUploadWithinGracePeriod).

A ``PassivePeriod`` (admitted to hospital, on holiday) silences missed slots due inside
it (reference: clinical.md 8, takeaway 2). Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.reading import Kind

# Danish home monitoring is the first deployment (ARCHITECTURE.md).
DEFAULT_TIMEZONE = "Europe/Copenhagen"
# Two hours either side of the due time: a morning measurement at 08:00 counts from 06:00
# to 10:00. OpenTele configures its window per schedule type (ScheduleWindow); this is
# our default, set per schedule.
DEFAULT_GRACE = timedelta(hours=2)
# ISO weekday numbers, Monday = 1 (datetime.isoweekday).
ALL_WEEKDAYS = frozenset(range(1, 8))
# A window must leave room for the next day's first slot.
MAX_GRACE = timedelta(hours=12)


class PassiveReason(StrEnum):
    """Why missed measurements are not alerted (passive_periods.reason)."""

    ADMITTED = "admitted"
    HOLIDAY = "holiday"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One due measurement: fulfilled by a reading measured in ``[opens, closes]``."""

    due: datetime
    opens: datetime
    closes: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementSchedule:
    """A kind due at local ``times`` on ``weekdays`` (ISO, Monday = 1) in ``timezone``."""

    kind: Kind
    times: tuple[time, ...]
    weekdays: frozenset[int] = ALL_WEEKDAYS
    grace: timedelta = DEFAULT_GRACE
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if not self.times:
            raise ValueError("a schedule needs at least one time of day")
        if len(set(self.times)) != len(self.times):
            raise ValueError("times of day must be distinct")
        if any(t.tzinfo is not None for t in self.times):
            raise ValueError("times of day are local wall-clock times and must be naive")
        if not self.weekdays or not self.weekdays <= ALL_WEEKDAYS:
            raise ValueError(f"weekdays must be a non-empty subset of 1..7, got {self.weekdays}")
        if not timedelta(0) < self.grace <= MAX_GRACE:
            raise ValueError(f"grace must lie in (0, {MAX_GRACE}], got {self.grace}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    def slots_closing(self, after: datetime, until: datetime) -> tuple[Slot, ...]:
        """The slots whose window closes in ``(after, until]``, in time order."""
        if after.utcoffset() is None or until.utcoffset() is None:
            raise ValueError("after and until must be timezone-aware")
        # Dues from two days before to a day after, so every neighbour of a slot is known.
        dues = self._dues(
            (after - MAX_GRACE).astimezone(UTC).date() - timedelta(days=2),
            until.astimezone(UTC).date() + timedelta(days=2),
        )
        slots = []
        for index, due in enumerate(dues):
            opens, closes = due - self.grace, due + self.grace
            if index > 0:
                opens = max(opens, _midpoint(dues[index - 1], due))
            if index + 1 < len(dues):
                closes = min(closes, _midpoint(due, dues[index + 1]))
            if after < closes <= until:
                slots.append(Slot(due=due, opens=opens, closes=closes))
        return tuple(slots)

    def _dues(self, first: date, last: date) -> list[datetime]:
        zone = ZoneInfo(self.timezone)
        dues: list[datetime] = []
        day = first
        while day <= last:
            if day.isoweekday() in self.weekdays:
                dues.extend(
                    datetime.combine(day, t, tzinfo=zone).astimezone(UTC) for t in self.times
                )
            day += timedelta(days=1)
        return sorted(set(dues))


@dataclass(frozen=True, slots=True, kw_only=True)
class PassivePeriod:
    """``[start, end)`` in which missed measurements are not alerted; no end: until ended."""

    start: datetime
    end: datetime | None = None
    reason: PassiveReason = PassiveReason.OTHER

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or (
            self.end is not None and self.end.utcoffset() is None
        ):
            raise ValueError("a passive period's bounds must be timezone-aware")
        if self.end is not None and self.end <= self.start:
            raise ValueError("a passive period must end after it starts")

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def _midpoint(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2
