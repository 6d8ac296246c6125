"""Schedules, slots and missed measurements, with passive periods (pure, fixed clock)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from devices.reading import Kind
from ingest.rules.missing import missed_slots, missing_candidate
from ingest.schedule import MeasurementSchedule, PassivePeriod, PassiveReason, Slot
from ingest.threshold import Severity

# Copenhagen is UTC+1 in November: 08:00 local is 07:00 UTC.
DAY = datetime(2026, 11, 2, tzinfo=UTC)
TWICE = MeasurementSchedule(kind=Kind.SYSTOLIC, times=(time(8, 0), time(20, 0)))
HOUR = timedelta(hours=1)


def utc(hour: float, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour)


def test_slots_are_local_times_with_grace_either_side():
    slots = TWICE.slots_closing(utc(0), utc(24))
    assert slots == (
        Slot(due=utc(7), opens=utc(5), closes=utc(9)),
        Slot(due=utc(19), opens=utc(17), closes=utc(21)),
    )


def test_windows_of_close_slots_meet_halfway():
    hourly = MeasurementSchedule(kind=Kind.SPO2, times=(time(8), time(9)), grace=2 * HOUR)
    first, second = hourly.slots_closing(utc(0), utc(12))
    assert (first.closes, second.opens) == (utc(7.5), utc(7.5))
    assert (first.opens, second.closes) == (utc(5), utc(10))


def test_weekdays_and_daylight_saving_time():
    # 2026-03-29 is a Sunday; Denmark moves to UTC+2 that night.
    sundays = MeasurementSchedule(kind=Kind.SPO2, times=(time(8),), weekdays=frozenset({7}))
    start = datetime(2026, 3, 22, tzinfo=UTC)
    dues = [s.due for s in sundays.slots_closing(start, start + timedelta(days=14))]
    assert dues == [datetime(2026, 3, 22, 7, tzinfo=UTC), datetime(2026, 3, 29, 6, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"times": ()}, "at least one", id="no-times"),
        pytest.param({"times": (time(8), time(8))}, "distinct", id="repeated-time"),
        pytest.param({"weekdays": frozenset({0})}, "weekdays", id="weekday-0"),
        pytest.param({"grace": timedelta(0)}, "grace", id="no-grace"),
        pytest.param({"grace": timedelta(hours=13)}, "grace", id="grace-too-long"),
        pytest.param({"timezone": "Mars/Olympus"}, "time zone", id="unknown-zone"),
    ],
)
def test_a_schedule_is_validated(changes, message):
    fields = {"kind": Kind.SPO2, "times": (time(8),), **changes}
    with pytest.raises(ValueError, match=message):
        MeasurementSchedule(**fields)


@pytest.mark.parametrize(
    ("measured", "missed"),
    [
        pytest.param([], [utc(7), utc(19)], id="nothing-measured"),
        pytest.param([utc(5)], [utc(19)], id="at-the-window-opening"),
        pytest.param([utc(9)], [utc(19)], id="at-the-window-closing"),
        pytest.param([utc(9, 0) + timedelta(seconds=1)], [utc(7), utc(19)], id="a-second-late"),
        pytest.param([utc(13)], [utc(7), utc(19)], id="between-windows-fulfils-none"),
        pytest.param([utc(7), utc(19.5)], [], id="both-measured"),
    ],
)
def test_missed_slots(measured, missed):
    slots = TWICE.slots_closing(utc(0), utc(24))
    found = missed_slots(slots, measured=sorted(measured))
    assert [s.due for s in found] == missed


@pytest.mark.parametrize(
    ("period", "missed"),
    [
        pytest.param(PassivePeriod(start=utc(0), end=utc(12)), [utc(19)], id="morning-passive"),
        pytest.param(PassivePeriod(start=utc(7), end=utc(19)), [utc(19)], id="end-is-excluded"),
        pytest.param(PassivePeriod(start=utc(6), end=None), [], id="open-ended-admission"),
        pytest.param(PassivePeriod(start=utc(20), end=utc(48)), [utc(7), utc(19)],
                     id="starts-after-both"),
    ],
)  # fmt: skip
def test_passive_periods_silence_slots_due_inside_them(period, missed):
    slots = TWICE.slots_closing(utc(0), utc(24))
    assert [s.due for s in missed_slots(slots, measured=[], passive=[period])] == missed


def test_a_passive_period_must_end_after_it_starts():
    with pytest.raises(ValueError, match="end after"):
        PassivePeriod(start=utc(5), end=utc(5), reason=PassiveReason.HOLIDAY)


def test_missed_slots_make_one_blue_candidate_counted_per_slot():
    slots = TWICE.slots_closing(utc(0), utc(48))
    candidate = missing_candidate(42, Kind.SYSTOLIC, missed_slots(slots, measured=[utc(19)]))
    assert candidate is not None
    assert (candidate.condition, candidate.severity, candidate.count) == (
        "missing_systolic",
        Severity.BLUE,
        3,
    )
    assert (candidate.first_at, candidate.last_at, candidate.kind) == (
        utc(7),
        utc(19, day=1),
        Kind.SYSTOLIC,
    )
    assert missing_candidate(42, Kind.SYSTOLIC, ()) is None
