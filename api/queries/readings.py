"""Readings of one patient: raw rows, a downsampled series, CSV export.

Callers check access to the patient first (``api.access.check_patient``); these
queries then read that patient only. A series has at most ``points`` buckets of equal
width covering [since, until): ``ceil(span / points)`` seconds, aligned on ``since``.
When a bucket is at least 15 minutes and a 15-minute aggregate exists (TimescaleDB's
continuous aggregate ``readings_15m``, ingest/migrations/0008, or plain PostgreSQL's
``reading_rollups_15m``, 0011), buckets are rounded up to whole 15-minute buckets,
aligned on 15-minute boundaries, and built from the aggregate; otherwise from raw rows
with ``date_bin``. Absent values (NULL) count in none of them.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.db import Connection
from api.schemas.readings import ReadingOut, Series, SeriesPoint, SeriesSource
from devices.reading import KIND_CODES, Kind

# The continuous aggregate's bucket (ingest/migrations/0008_timescaledb_readings.sql).
AGGREGATE_BUCKET = timedelta(minutes=15)
# Rows fetched per round trip while streaming a CSV export.
CSV_BATCH = 5000
CSV_COLUMNS = ("measured_at", "kind", "value", "unit", "absent_reason", "device_id", "flags")

_RAW = """
SELECT r.kind, r.value, r.unit, r.absent_reason, r.measured_at, r.device_id, r.flags
FROM readings r
WHERE r.patient_id = %(patient)s AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
  AND r.measured_at >= %(since)s AND r.measured_at < %(until)s
ORDER BY r.measured_at DESC, r.kind
LIMIT %(limit)s
"""

SERIES_RAW_SQL = """
SELECT date_bin(%(bucket)s, r.measured_at, %(since)s) AS start,
       min(r.value) AS min, avg(r.value) AS avg, max(r.value) AS max, count(r.value) AS count
FROM readings r
WHERE r.patient_id = %(patient)s AND r.kind = %(kind)s
  AND r.measured_at >= %(since)s AND r.measured_at < %(until)s AND r.value IS NOT NULL
GROUP BY 1 ORDER BY 1
"""

# Plain PostgreSQL's rollups (ingest/migrations/0011), merged the same way.
SERIES_ROLLUP_SQL = """
SELECT date_bin(%(bucket)s, g.bucket, %(since)s) AS start,
       min(g.min_value) AS min, sum(g.sum_value) / sum(g.reading_count) AS avg,
       max(g.max_value) AS max, sum(g.reading_count)::bigint AS count
FROM reading_rollups_15m g
WHERE g.patient_id = %(patient)s AND g.kind = %(kind)s
  AND g.bucket >= %(since)s AND g.bucket < %(until)s
GROUP BY 1 ORDER BY 1
"""

SERIES_AGGREGATE_SQL = """
SELECT date_bin(%(bucket)s, g.bucket, %(since)s) AS start,
       min(g.min_value) AS min, sum(g.avg_value * g.reading_count) / sum(g.reading_count) AS avg,
       max(g.max_value) AS max, sum(g.reading_count)::bigint AS count
FROM readings_15m g
WHERE g.patient_id = %(patient)s AND g.kind = %(kind)s
  AND g.bucket >= %(since)s AND g.bucket < %(until)s AND g.reading_count > 0
GROUP BY 1 ORDER BY 1
"""


async def aggregate_source(conn: Connection) -> SeriesSource | None:
    """Which 15-minute aggregate this database has: TimescaleDB's, the rollups, or none."""
    cur = await conn.execute(
        "SELECT to_regclass('readings_15m') IS NOT NULL AS timescale, "
        "to_regclass('reading_rollups_15m') IS NOT NULL AS rollup"
    )
    row = await cur.fetchone()
    if row and row["timescale"]:
        return SeriesSource.AGGREGATE
    if row and row["rollup"]:
        return SeriesSource.ROLLUP
    return None


async def readings(
    conn: Connection,
    patient_id: int,
    *,
    kind: Kind | None,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[ReadingOut]:
    """Raw readings, newest first."""
    cur = await conn.execute(
        _RAW,
        {"patient": patient_id, "kind": kind, "since": since, "until": until, "limit": limit},
    )
    return [ReadingOut(**row) for row in await cur.fetchall()]


def bucket_width(since: datetime, until: datetime, points: int, *, aggregate: bool) -> timedelta:
    """The bucket giving at most ``points`` buckets over [since, until)."""
    seconds = max(1, math.ceil((until - since).total_seconds() / points))
    width = timedelta(seconds=seconds)
    if aggregate and width >= AGGREGATE_BUCKET:
        whole = math.ceil(width / AGGREGATE_BUCKET)
        width = AGGREGATE_BUCKET * whole
    return width


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesQuery:
    """The SQL of one chart series, with its parameters and what it reads."""

    sql: str
    params: dict[str, object]
    width: timedelta
    source: SeriesSource


def series_query(
    patient_id: int,
    *,
    kind: Kind,
    since: datetime,
    until: datetime,
    points: int,
    aggregate: SeriesSource | None,
) -> SeriesQuery:
    """How to build a series (pure; the benchmark times the same query as its floor)."""
    width = bucket_width(since, until, points, aggregate=aggregate is not None)
    source = aggregate if aggregate is not None and width >= AGGREGATE_BUCKET else SeriesSource.RAW
    # Aggregated buckets start on multiples of 15 minutes; so do the chart's then.
    start = _floor(since, AGGREGATE_BUCKET) if source is not SeriesSource.RAW else since
    return SeriesQuery(
        sql=_SERIES_SQL[source],
        params={
            "patient": patient_id,
            "kind": kind,
            "since": start,
            "until": until,
            "bucket": width,
        },
        width=width,
        source=source,
    )


async def series(
    conn: Connection,
    patient_id: int,
    *,
    kind: Kind,
    since: datetime,
    until: datetime,
    points: int,
    aggregate: SeriesSource | None,
) -> Series:
    query = series_query(
        patient_id, kind=kind, since=since, until=until, points=points, aggregate=aggregate
    )
    cur = await conn.execute(query.sql, query.params)
    return Series(
        patient_id=patient_id,
        kind=kind,
        unit=KIND_CODES[kind].unit,
        since=since,
        until=until,
        bucket_seconds=int(query.width.total_seconds()),
        source=query.source,
        points=[SeriesPoint(**row) for row in await cur.fetchall()],
    )


_SERIES_SQL = {
    SeriesSource.RAW: SERIES_RAW_SQL,
    SeriesSource.ROLLUP: SERIES_ROLLUP_SQL,
    SeriesSource.AGGREGATE: SERIES_AGGREGATE_SQL,
}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _floor(at: datetime, step: timedelta) -> datetime:
    return at - (at - _EPOCH) % step


async def csv_rows(
    conn: Connection, patient_id: int, *, kind: Kind | None, since: datetime, until: datetime
) -> AsyncIterator[tuple[object, ...]]:
    """Every reading in the range, oldest first, streamed through a server-side cursor."""
    async with conn.transaction(), conn.cursor(name="readings_csv") as cur:
        await cur.execute(
            """SELECT r.measured_at, r.kind, r.value, r.unit, r.absent_reason, r.device_id,
            array_to_string(r.flags, ' ') AS flags
            FROM readings r
            WHERE r.patient_id = %(patient)s AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
              AND r.measured_at >= %(since)s AND r.measured_at < %(until)s
            ORDER BY r.measured_at, r.kind, r.device_id""",
            {"patient": patient_id, "kind": kind, "since": since, "until": until},
        )
        while rows := await cur.fetchmany(CSV_BATCH):
            for row in rows:
                yield tuple(row[column] for column in CSV_COLUMNS)
