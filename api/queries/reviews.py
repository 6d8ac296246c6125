"""Reviews: unreviewed measurements per patient, and "acknowledge all green".

A patient's unreviewed measurements are their spot measurements (one per device and
instant, so a blood-pressure measurement's values count once; continuous oximetry is
read as nights, migration 0013) received after their newest review.

``review_green`` decides who is green and records the reviews in one transaction. It
first takes the per-patient advisory lock that ingest holds while it stores and judges
a patient's readings (ingest/evaluation.py), so a flush that already judged a patient has
committed its readings and alerts before the check reads them; then one statement keeps
the patients without an open clinical alert and records, for each with new measurements,
a review up to the newest one received (never past ``up_to``). A patient that turned red,
yellow or blue in between is left alone, and readings still on their way are not covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.access import Scope, patients_subquery, scope_params
from api.db import Connection
from api.principal import Principal
from api.schemas.reviews import Review
from devices.reading import Kind
from ingest.alert_store import lock_key

# The clinical kinds (as api.queries.patients reads them): live cuff pressure is no value.
REVIEWED_KINDS = [kind.value for kind in Kind if kind is not Kind.CUFF_PRESSURE]

# The spot measurements of patient p.id received after its newest review.
_NEW = """
FROM readings r
WHERE r.patient_id = p.id AND r.patient_id IS NOT NULL AND NOT r.continuous
  AND r.kind = ANY(%(kinds)s)
  AND r.received_at > coalesce(
      (SELECT max(v.reviewed_up_to) FROM patient_reviews v WHERE v.patient_id = p.id),
      '-infinity')
"""

# The worklist shows "100+" beyond this: counting further would read every measurement of
# a patient nobody reviewed for months on each render, and tells the nurse nothing more.
MAX_UNREVIEWED = 100

UNREVIEWED_SQL = f"""
SELECT p.id AS patient_id,
       (SELECT count(*) FROM (
            SELECT DISTINCT r.device_id, r.measured_at {_NEW} LIMIT {MAX_UNREVIEWED}) AS m
       ) AS unreviewed
FROM unnest(%(patients)s::bigint[]) AS p (id)
"""

_CANDIDATES = """
SELECT DISTINCT s.patient_id FROM ({scope}) AS s (patient_id)
WHERE %(team)s::bigint IS NULL OR s.patient_id IN (
    SELECT ctp.patient_id FROM care_team_patients ctp WHERE ctp.care_team_id = %(team)s)
ORDER BY s.patient_id
"""

_LOCK = "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) s"

REVIEW_SQL = f"""
WITH green AS (
    SELECT p.id FROM unnest(%(patients)s::bigint[]) AS p (id)
    WHERE NOT EXISTS (
        SELECT FROM alerts a
        WHERE a.patient_id = p.id AND a.audience = 'clinical' AND a.status = 'open')
),
news AS (
    SELECT p.id AS patient_id, n.up_to, n.measurements
    FROM green p CROSS JOIN LATERAL (
        SELECT max(r.received_at) AS up_to,
               count(DISTINCT (r.device_id, r.measured_at)) AS measurements
        {_NEW} AND r.received_at <= coalesce(%(up_to)s::timestamptz, 'infinity')
    ) AS n
    WHERE n.measurements > 0
)
INSERT INTO patient_reviews (patient_id, reviewed_up_to, reviewed_by, measurements)
SELECT patient_id, up_to, %(user)s, measurements FROM news ORDER BY patient_id
RETURNING id, patient_id, reviewed_up_to, reviewed_by, reviewed_at, measurements
"""


async def unreviewed(conn: Connection, patient_ids: Sequence[int]) -> dict[int, int]:
    """Unreviewed spot measurements of each patient, up to ``MAX_UNREVIEWED`` (callers
    checked access)."""
    if not patient_ids:
        return {}
    cur = await conn.execute(
        UNREVIEWED_SQL, {"patients": list(patient_ids), "kinds": REVIEWED_KINDS}
    )
    return {row["patient_id"]: row["unreviewed"] for row in await cur.fetchall()}


async def review_green(
    conn: Connection,
    principal: Principal,
    *,
    care_team_id: int | None = None,
    up_to: datetime | None = None,
) -> list[Review]:
    """Mark the green patients ``principal`` may see as reviewed; the caller commits.

    Must run inside a transaction: the advisory locks last until its end.
    """
    cur = await conn.execute(
        _CANDIDATES.format(scope=patients_subquery(principal, Scope.CARE)),
        {"team": care_team_id, **scope_params(principal)},
    )
    patients = [row["patient_id"] for row in await cur.fetchall()]
    if not patients:
        return []
    # In key order, as ingest takes them (ingest.alert_store.lock): no deadlock.
    await conn.execute(_LOCK, (sorted({lock_key("patient", p) for p in patients}),))
    cur = await conn.execute(
        REVIEW_SQL,
        {"patients": patients, "kinds": REVIEWED_KINDS, "up_to": up_to, "user": principal.user_id},
    )
    return [Review(**row) for row in await cur.fetchall()]
