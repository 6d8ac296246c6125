"""Nightly oximetry summaries in the database, computed by the watchdog once a night ends.

A night runs from ``NIGHT_STARTS`` on its date to ``NIGHT_ENDS`` the next morning, in the
patient's zone (monitoring_plans.timezone). It is summarized ``settle`` after it ends, so
samples a gateway held in its outbox for a while are in, and only once (the row is the
record of it; delete it to have the night recomputed). Nights without continuous SpO2
samples leave no row. Definitions: ingest/oximetry.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from devices.reading import Flag
from ingest.db import Connection
from ingest.oximetry import Channel, NightSummary, summarize
from ingest.rules.observation import UNRELIABLE_FLAGS
from ingest.schedule import DEFAULT_TIMEZONE

# The hours a home patient is usually asleep: our choice, as no source in reference
# clinical.md fixes one; a patient's own night is a later refinement.
NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(8, 0)
# Wait this long after a night ends before summarizing it (gateway outboxes catch up).
SETTLE = timedelta(hours=1)
# Nights older than this are not looked at any more (an outage longer than this loses
# their summaries, not their readings).
LOOKBACK_NIGHTS = 3

SELECT_PATIENTS = """
SELECT DISTINCT a.patient_id, coalesce(p.timezone, %s)
FROM device_assignments AS a
LEFT JOIN monitoring_plans AS p USING (patient_id)
WHERE a.period && tstzrange(%s, %s)
"""
SELECT_UNSUMMARIZED = """
SELECT p.patient_id FROM unnest(%(patients)s::bigint[]) AS p (patient_id)
WHERE NOT EXISTS (SELECT FROM oximetry_nights AS n
                  WHERE n.patient_id = p.patient_id AND n.night = %(night)s)
  AND EXISTS (SELECT FROM readings AS r
              WHERE r.patient_id = p.patient_id AND r.kind = 'spo2' AND r.continuous
                AND r.measured_at >= %(start)s AND r.measured_at < %(end)s)
"""
SELECT_SAMPLES = """
SELECT kind, extract(epoch FROM measured_at)::float8, value, flags
FROM readings
WHERE patient_id = %s AND kind IN ('spo2', 'pulse_rate') AND continuous
  AND measured_at >= %s AND measured_at < %s
"""
_SUMMARY_COLUMNS = tuple(NightSummary.__dataclass_fields__)
INSERT_NIGHT = f"""
INSERT INTO oximetry_nights (patient_id, night, starts_at, ends_at, {", ".join(_SUMMARY_COLUMNS)})
VALUES (%(patient_id)s, %(night)s, %(starts_at)s, %(ends_at)s,
        {", ".join(f"%({name})s" for name in _SUMMARY_COLUMNS)})
ON CONFLICT (patient_id, night) DO NOTHING
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Night:
    night: date
    starts_at: datetime
    ends_at: datetime


def night_of(night: date, timezone: str) -> Night:
    zone = ZoneInfo(timezone)
    return Night(
        night=night,
        starts_at=datetime.combine(night, NIGHT_STARTS, tzinfo=zone).astimezone(UTC),
        ends_at=datetime.combine(night + timedelta(days=1), NIGHT_ENDS, tzinfo=zone).astimezone(
            UTC
        ),
    )


def due_nights(
    now: datetime, timezone: str, *, settle: timedelta = SETTLE, lookback: int = LOOKBACK_NIGHTS
) -> list[Night]:
    """The last ``lookback`` nights in ``timezone`` that ended at least ``settle`` ago."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    nights = [night_of(today - timedelta(days=back), timezone) for back in range(lookback + 1)]
    return sorted((n for n in nights if n.ends_at + settle <= now), key=lambda n: n.night)[
        -lookback:
    ]


def summarize_due_nights(
    conn: Connection,
    *,
    now: datetime,
    settle: timedelta = SETTLE,
    lookback: int = LOOKBACK_NIGHTS,
) -> int:
    """Summarize every due night with samples that has no summary yet; how many were."""
    earliest = now - timedelta(days=lookback + 2)
    by_zone: defaultdict[str, list[int]] = defaultdict(list)
    for patient_id, timezone in conn.execute(
        SELECT_PATIENTS, (DEFAULT_TIMEZONE, earliest, now)
    ).fetchall():
        by_zone[timezone].append(patient_id)
    stored = 0
    for timezone, patients in sorted(by_zone.items()):
        for night in due_nights(now, timezone, settle=settle, lookback=lookback):
            found = conn.execute(
                SELECT_UNSUMMARIZED,
                {
                    "patients": patients,
                    "night": night.night,
                    "start": night.starts_at,
                    "end": night.ends_at,
                },
            ).fetchall()
            for (patient_id,) in found:
                with conn.transaction():
                    summary = summarize_night(conn, patient_id, night)
                    conn.execute(
                        INSERT_NIGHT,
                        {
                            "patient_id": patient_id,
                            "night": night.night,
                            "starts_at": night.starts_at,
                            "ends_at": night.ends_at,
                            **asdict(summary),
                        },
                    )
                stored += 1
    return stored


def summarize_night(conn: Connection, patient_id: int, night: Night) -> NightSummary:
    """Read the night's continuous SpO2 and pulse samples and summarize them."""
    rows = conn.execute(SELECT_SAMPLES, (patient_id, night.starts_at, night.ends_at)).fetchall()
    channels: dict[str, list[tuple[float, float, bool]]] = {"spo2": [], "pulse_rate": []}
    for kind, epoch, value, flags in rows:
        usable = value is not None and not frozenset(map(Flag, flags)) & UNRELIABLE_FLAGS
        channels[kind].append((epoch, np.nan if value is None else value, usable))
    return summarize(_channel(channels["spo2"]), _channel(channels["pulse_rate"]))


def _channel(samples: list[tuple[float, float, bool]]) -> Channel:
    if not samples:
        return Channel.empty()
    times, values, usable = zip(*samples, strict=True)
    return Channel(
        np.array(times, np.float64), np.array(values, np.float64), np.array(usable, np.bool_)
    )
