"""A patient's monitoring plan in the database: program, thresholds, schedules, passive periods.

``enrol`` copies a care program's defaults (ingest/program.py) onto the patient in one
transaction; ``set_threshold`` changes one kind's limits afterwards. Every version of a
threshold lands in threshold_history through 0005's trigger, with who and from when, so
``load_threshold_book`` can answer which limits were in force at any instant.

An upsert is written as UPDATE-then-INSERT on purpose: ``INSERT ... ON CONFLICT DO
UPDATE`` fires BEFORE INSERT triggers even when it ends up updating, which would log
every change twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.reading import Kind
from ingest.db import Connection
from ingest.program import Program, default_schedules, default_thresholds
from ingest.schedule import DEFAULT_TIMEZONE, MeasurementSchedule, PassivePeriod, PassiveReason
from ingest.threshold import LIMIT_NAMES, Threshold, ThresholdBook, ThresholdVersion

_LIMITS = ", ".join(LIMIT_NAMES)

UPDATE_THRESHOLD = f"""
UPDATE thresholds SET ({_LIMITS}, program, updated_by, updated_at)
    = (%(red_low)s, %(yellow_low)s, %(yellow_high)s, %(red_high)s, %(program)s, %(by)s,
       coalesce(%(at)s, now()))
WHERE patient_id = %(patient_id)s AND kind = %(kind)s
"""
INSERT_THRESHOLD = f"""
INSERT INTO thresholds (patient_id, kind, {_LIMITS}, program, updated_by, updated_at)
VALUES (%(patient_id)s, %(kind)s, %(red_low)s, %(yellow_low)s, %(yellow_high)s, %(red_high)s,
        %(program)s, %(by)s, coalesce(%(at)s, now()))
"""
UPSERT_PLAN = """
INSERT INTO monitoring_plans (patient_id, program, timezone, enrolled_by, enrolled_at)
VALUES (%s, %s, %s, %s, coalesce(%s, now()))
ON CONFLICT (patient_id) DO UPDATE SET program = excluded.program,
    timezone = excluded.timezone, enrolled_by = excluded.enrolled_by,
    enrolled_at = excluded.enrolled_at
"""
UPSERT_SCHEDULE = """
INSERT INTO measurement_schedules
    (patient_id, kind, times_of_day, weekdays, grace, active_from, updated_by, updated_at)
VALUES (%(patient_id)s, %(kind)s, %(times)s, %(weekdays)s, %(grace)s,
        coalesce(%(at)s, now()), %(by)s, coalesce(%(at)s, now()))
ON CONFLICT (patient_id, kind) DO UPDATE SET times_of_day = excluded.times_of_day,
    weekdays = excluded.weekdays, grace = excluded.grace, active_from = excluded.active_from,
    updated_by = excluded.updated_by, updated_at = excluded.updated_at
"""
SELECT_HISTORY = f"""
SELECT id, patient_id, kind, {_LIMITS}, program, changed_by, valid_from
FROM threshold_history
WHERE (patient_id, kind) IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))
  AND valid_from <= %s
"""
SELECT_SCHEDULES = """
SELECT s.patient_id, s.kind, s.times_of_day, s.weekdays, s.grace, s.active_from,
       coalesce(p.timezone, %s)
FROM measurement_schedules AS s
LEFT JOIN monitoring_plans AS p USING (patient_id)
ORDER BY s.patient_id, s.kind
"""
SELECT_PASSIVE = """
SELECT patient_id, lower(period), upper(period), reason
FROM passive_periods
WHERE patient_id = ANY(%s) AND (upper_inf(period) OR upper(period) > %s)
ORDER BY patient_id, lower(period)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedSchedule:
    """A stored schedule: whose, and from when slots may be alerted."""

    patient_id: int
    schedule: MeasurementSchedule
    active_from: datetime


def enrol(
    conn: Connection,
    patient_id: int,
    program: Program,
    *,
    by: int | None = None,
    at: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Enrol a patient: record the plan, copy the program's thresholds and schedules."""
    with conn.transaction():
        conn.execute(UPSERT_PLAN, (patient_id, program.value, timezone, by, at))
        for threshold in default_thresholds(program):
            set_threshold(conn, patient_id, threshold, by=by, at=at, program=program)
        for schedule in default_schedules(program, timezone=timezone):
            set_schedule(conn, patient_id, schedule, by=by, at=at)


def set_threshold(
    conn: Connection,
    patient_id: int,
    threshold: Threshold,
    *,
    by: int | None = None,
    at: datetime | None = None,
    program: Program | None = None,
) -> None:
    """Make ``threshold`` the patient's limits for its kind from ``at`` (default: now)."""
    params = {
        "patient_id": patient_id,
        "kind": threshold.kind.value,
        **threshold.limits,
        "program": None if program is None else program.value,
        "by": by,
        "at": at,
    }
    with conn.transaction():
        if conn.execute(UPDATE_THRESHOLD, params).rowcount == 0:
            conn.execute(INSERT_THRESHOLD, params)


def set_schedule(
    conn: Connection,
    patient_id: int,
    schedule: MeasurementSchedule,
    *,
    by: int | None = None,
    at: datetime | None = None,
) -> None:
    """Make ``schedule`` the patient's for its kind; slots closing before ``at`` never alert.

    The zone is the plan's (``enrol``); a schedule carries it only to compute slots.
    """
    with conn.transaction():
        conn.execute(
            UPSERT_SCHEDULE,
            {
                "patient_id": patient_id,
                "kind": schedule.kind.value,
                "times": list(schedule.times),
                "weekdays": sorted(schedule.weekdays),
                "grace": schedule.grace,
                "at": at,
                "by": by,
            },
        )


def add_passive_period(
    conn: Connection,
    patient_id: int,
    period: PassivePeriod,
    *,
    by: int | None = None,
    note: str | None = None,
) -> int:
    """Record a passive period; returns its id."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO passive_periods (patient_id, period, reason, note, created_by) "
            "VALUES (%s, tstzrange(%s, %s, '[)'), %s, %s, %s) RETURNING id",
            (patient_id, period.start, period.end, period.reason.value, note, by),
        ).fetchone()
    assert row is not None  # INSERT ... RETURNING returns its row
    return int(row[0])


def load_threshold_book(
    conn: Connection, pairs: Iterable[tuple[int, Kind]], *, until: datetime
) -> ThresholdBook:
    """Every threshold version of ``pairs`` that came into force up to ``until``."""
    wanted = sorted(set(pairs))
    if not wanted:
        return ThresholdBook()
    rows = conn.execute(
        SELECT_HISTORY,
        ([p for p, _ in wanted], [k.value for _, k in wanted], until),
    ).fetchall()
    return ThresholdBook.of(
        ThresholdVersion(
            patient_id=patient_id,
            threshold=Threshold(
                kind=Kind(kind),
                red_low=red_low,
                yellow_low=yellow_low,
                yellow_high=yellow_high,
                red_high=red_high,
            ),
            valid_from=valid_from,
            program=program,
            changed_by=changed_by,
            history_id=history_id,
        )
        for (history_id, patient_id, kind, red_low, yellow_low, yellow_high, red_high, program,
             changed_by, valid_from) in rows
    )  # fmt: skip


def load_schedules(conn: Connection) -> list[PlannedSchedule]:
    """Every patient's schedules, in the zone of their plan."""
    rows = conn.execute(SELECT_SCHEDULES, (DEFAULT_TIMEZONE,)).fetchall()
    return [
        PlannedSchedule(
            patient_id=patient_id,
            schedule=MeasurementSchedule(
                kind=Kind(kind),
                times=tuple(times),
                weekdays=frozenset(weekdays),
                grace=grace,
                timezone=timezone,
            ),
            active_from=active_from,
        )
        for patient_id, kind, times, weekdays, grace, active_from, timezone in rows
    ]


def load_passive_periods(
    conn: Connection, patient_ids: Sequence[int], *, ending_after: datetime
) -> dict[int, list[PassivePeriod]]:
    """Passive periods per patient that had not ended by ``ending_after``."""
    periods: dict[int, list[PassivePeriod]] = {}
    for patient_id, start, end, reason in conn.execute(
        SELECT_PASSIVE, (list(patient_ids), ending_after)
    ).fetchall():
        periods.setdefault(patient_id, []).append(
            PassivePeriod(start=start, end=end, reason=PassiveReason(reason))
        )
    return periods
