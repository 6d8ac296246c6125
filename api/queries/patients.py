"""Patients: the triage list, detail, delivery identity, registration.

Triage order (issue "Clinician and fleet API"): the worst open alert first (red,
yellow, blue, then none), then the oldest unacknowledged alert, then the patient id so
pages are stable. Only status 'open' counts: an acknowledged alert has been seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.access import Scope, patients_subquery, scope_params
from api.db import Connection, Row
from api.errors import NotFoundError
from api.principal import Principal
from api.queries import reviews
from api.schemas.patients import (
    AlertSummary,
    AssignedDevice,
    CareTeamRef,
    Identity,
    LatestReading,
    PatientCreate,
    TriageEntry,
)
from devices.reading import Kind
from ingest.threshold import SEVERITY_RANK

# Kinds a clinician reads; live cuff pressure is never a clinical value (devices.reading).
CLINICAL_KINDS = tuple(kind for kind in Kind if kind is not Kind.CUFF_PRESSURE)
# Severity ranks as SQL (ingest/threshold.py SEVERITY_RANK: blue < yellow < red).
_RANK = "CASE a.severity WHEN 'red' THEN 3 WHEN 'yellow' THEN 2 WHEN 'blue' THEN 1 END"
_SEVERITY_OF_RANK = {rank: severity for severity, rank in SEVERITY_RANK.items()}

TRIAGE_SQL = f"""
WITH visible AS MATERIALIZED (
    SELECT DISTINCT s.patient_id FROM ({{scope}}) AS s (patient_id)
),
open AS (
    SELECT a.patient_id, max({_RANK}) AS rank, min(a.first_at) AS oldest, count(*) AS alerts
    FROM alerts a JOIN visible v ON v.patient_id = a.patient_id
    WHERE a.audience = 'clinical' AND a.status = 'open'
    GROUP BY a.patient_id
),
page AS (
    SELECT v.patient_id, o.rank, o.oldest, coalesce(o.alerts, 0) AS alerts
    FROM visible v LEFT JOIN open o ON o.patient_id = v.patient_id
    ORDER BY o.rank DESC NULLS LAST, o.oldest ASC NULLS LAST, v.patient_id
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT page.patient_id, i.name, page.rank, page.oldest, page.alerts
FROM page JOIN patient_identity i ON i.patient_id = page.patient_id
ORDER BY page.rank DESC NULLS LAST, page.oldest ASC NULLS LAST, page.patient_id
"""

LATEST_SQL = """
SELECT p.id AS patient_id, r.kind, r.value, r.unit, r.absent_reason, r.measured_at
FROM unnest(%(patients)s::bigint[]) AS p (id)
CROSS JOIN unnest(%(kinds)s::text[]) AS k (kind)
CROSS JOIN LATERAL (
    SELECT x.kind, x.value, x.unit, x.absent_reason, x.measured_at FROM readings x
    WHERE x.patient_id = p.id AND x.kind = k.kind
    ORDER BY x.measured_at DESC LIMIT 1
) AS r
ORDER BY p.id, r.kind
"""

_IDENTITY = """
SELECT p.id AS patient_id, p.organization_id, i.national_id, i.name, i.address,
       i.postal_code, i.city, i.phone
FROM patients p JOIN patient_identity i ON i.patient_id = p.id
WHERE p.id IN ({scope})
  AND (%(id)s::bigint IS NULL OR p.id = %(id)s)
ORDER BY p.id
LIMIT %(limit)s OFFSET %(offset)s
"""


async def triage(
    conn: Connection, principal: Principal, *, limit: int, offset: int
) -> list[TriageEntry]:
    cur = await conn.execute(
        TRIAGE_SQL.format(scope=patients_subquery(principal, Scope.CARE)),
        {"limit": limit, "offset": offset, **scope_params(principal)},
    )
    rows = await cur.fetchall()
    patient_ids = [row["patient_id"] for row in rows]
    latest = await latest_readings(conn, patient_ids)
    unreviewed = await reviews.unreviewed(conn, patient_ids)
    return [
        TriageEntry(
            patient_id=row["patient_id"],
            name=row["name"],
            worst_severity=_SEVERITY_OF_RANK.get(row["rank"]),
            oldest_unacknowledged_at=row["oldest"],
            open_alerts=row["alerts"],
            unreviewed=unreviewed.get(row["patient_id"], 0),
            latest=latest.get(row["patient_id"], []),
        )
        for row in rows
    ]


async def latest_readings(
    conn: Connection, patient_ids: Sequence[int]
) -> dict[int, list[LatestReading]]:
    """The newest reading per clinical kind of each patient (callers checked access)."""
    if not patient_ids:
        return {}
    cur = await conn.execute(
        LATEST_SQL, {"patients": list(patient_ids), "kinds": [k.value for k in CLINICAL_KINDS]}
    )
    found: dict[int, list[LatestReading]] = {}
    for row in await cur.fetchall():
        patient = row.pop("patient_id")
        found.setdefault(patient, []).append(LatestReading(**row))
    return found


async def identities(
    conn: Connection,
    principal: Principal,
    *,
    patient_id: int | None = None,
    limit: int = 1,
    offset: int = 0,
) -> list[Identity]:
    cur = await conn.execute(
        _IDENTITY.format(scope=patients_subquery(principal, Scope.IDENTITY)),
        {"id": patient_id, "limit": limit, "offset": offset, **scope_params(principal)},
    )
    return [Identity(**row) for row in await cur.fetchall()]


async def identity(conn: Connection, principal: Principal, patient_id: int) -> Identity:
    found = await identities(conn, principal, patient_id=patient_id)
    if not found:
        raise NotFoundError("no such patient")
    return found[0]


async def care_teams(conn: Connection, patient_id: int) -> list[CareTeamRef]:
    cur = await conn.execute(
        """SELECT t.id, t.name, t.organization_id FROM care_teams t
        JOIN care_team_patients ctp ON ctp.care_team_id = t.id
        WHERE ctp.patient_id = %s ORDER BY t.id""",
        (patient_id,),
    )
    return [CareTeamRef(**row) for row in await cur.fetchall()]


async def assigned_devices(conn: Connection, patient_id: int) -> list[AssignedDevice]:
    """Devices assigned now or later (open or future periods)."""
    cur = await conn.execute(
        """SELECT d.id AS device_id, d.model, lower(a.period) AS since, upper(a.period) AS until
        FROM device_assignments a JOIN devices d ON d.id = a.device_id
        WHERE a.patient_id = %s AND (upper_inf(a.period) OR upper(a.period) > now())
        ORDER BY lower(a.period)""",
        (patient_id,),
    )
    return [AssignedDevice(**row) for row in await cur.fetchall()]


async def open_alerts(conn: Connection, patient_id: int) -> list[AlertSummary]:
    cur = await conn.execute(
        f"""SELECT a.id, a.condition, a.kind, a.severity, a.status, a.first_at, a.last_at
        FROM alerts a WHERE a.patient_id = %s AND a.audience = 'clinical'
          AND a.status <> 'resolved'
        ORDER BY {_RANK} DESC, a.first_at""",
        (patient_id,),
    )
    return [AlertSummary(**row) for row in await cur.fetchall()]


async def register(conn: Connection, principal: Principal, body: PatientCreate) -> Identity:
    """A new patient of the caller's organization, on the given teams of that organization."""
    async with conn.transaction():
        if body.care_team_ids:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM care_teams WHERE id = ANY(%s) AND organization_id = %s",
                (body.care_team_ids, principal.organization_id),
            )
            row = await cur.fetchone()
            if row is None or row["n"] != len(set(body.care_team_ids)):
                raise NotFoundError("no such care team in your organization")
        cur = await conn.execute(
            "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id",
            (principal.organization_id,),
        )
        created: Row | None = await cur.fetchone()
        assert created is not None
        patient_id = int(created["id"])
        fields: dict[str, Any] = body.model_dump(exclude={"care_team_ids"})
        await conn.execute(
            """INSERT INTO patient_identity (patient_id, national_id, name, address,
            postal_code, city, phone) VALUES (%(patient_id)s, %(national_id)s, %(name)s,
            %(address)s, %(postal_code)s, %(city)s, %(phone)s)""",
            {"patient_id": patient_id, **fields},
        )
        for team in dict.fromkeys(body.care_team_ids):
            await conn.execute(
                "INSERT INTO care_team_patients (care_team_id, patient_id) VALUES (%s, %s)",
                (team, patient_id),
            )
    return Identity(patient_id=patient_id, organization_id=principal.organization_id, **fields)
