"""A patient's monitoring plan: thresholds (current and history), program, schedules,
passive periods, and oximetry nights. Reads here; writes go through ingest's
monitoring_plan functions (``api.routes.plans``). Callers checked access first."""

from __future__ import annotations

from typing import Any

from api.db import Connection
from api.schemas.plans import (
    OximetryNight,
    PassivePeriodOut,
    PlanOut,
    ScheduleOut,
    ThresholdOut,
    ThresholdVersionOut,
)
from devices.reading import Kind

# Versions of one patient's thresholds returned at most (years of weekly edits).
MAX_HISTORY = 1000


async def thresholds(conn: Connection, patient_id: int) -> list[ThresholdOut]:
    cur = await conn.execute(
        """SELECT kind, red_low, yellow_low, yellow_high, red_high, program, updated_by,
        updated_at FROM thresholds WHERE patient_id = %s ORDER BY kind""",
        (patient_id,),
    )
    return [ThresholdOut(**row) for row in await cur.fetchall()]


async def threshold_history(
    conn: Connection, patient_id: int, *, kind: Kind | None
) -> list[ThresholdVersionOut]:
    cur = await conn.execute(
        """SELECT kind, red_low, yellow_low, yellow_high, red_high, program, changed_by,
        valid_from FROM threshold_history
        WHERE patient_id = %(patient)s AND (%(kind)s::text IS NULL OR kind = %(kind)s)
        ORDER BY valid_from DESC, id DESC LIMIT %(limit)s""",
        {"patient": patient_id, "kind": kind, "limit": MAX_HISTORY},
    )
    return [ThresholdVersionOut(**row) for row in await cur.fetchall()]


async def plan(conn: Connection, patient_id: int) -> PlanOut:
    cur = await conn.execute(
        "SELECT program, timezone, enrolled_by, enrolled_at FROM monitoring_plans "
        "WHERE patient_id = %s",
        (patient_id,),
    )
    found: dict[str, Any] = await cur.fetchone() or dict.fromkeys(
        ("program", "timezone", "enrolled_by", "enrolled_at")
    )
    cur = await conn.execute(
        """SELECT kind, times_of_day AS times, weekdays,
        (extract(epoch FROM grace) / 60)::int AS grace_minutes, active_from
        FROM measurement_schedules WHERE patient_id = %s ORDER BY kind""",
        (patient_id,),
    )
    schedules = [ScheduleOut(**row) for row in await cur.fetchall()]
    cur = await conn.execute(
        """SELECT id, lower(period) AS start, upper(period) AS "end", reason, note, created_by
        FROM passive_periods WHERE patient_id = %s ORDER BY lower(period) DESC""",
        (patient_id,),
    )
    periods = [PassivePeriodOut(**row) for row in await cur.fetchall()]
    return PlanOut(**found, schedules=schedules, passive_periods=periods)


async def oximetry_nights(conn: Connection, patient_id: int, *, limit: int) -> list[OximetryNight]:
    cur = await conn.execute(
        f"""SELECT {", ".join(OximetryNight.model_fields)} FROM oximetry_nights
        WHERE patient_id = %s ORDER BY night DESC LIMIT %s""",
        (patient_id, limit),
    )
    return [OximetryNight(**row) for row in await cur.fetchall()]
