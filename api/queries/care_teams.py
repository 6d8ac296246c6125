"""Care teams of an organization: who is on them and which patients they care for.

A team belongs to one organization, whose admins manage it; its members may come from
any organization (a region's clinician on a municipality's team), which is how care
across organizations is granted. Its patients are the organization's own.
"""

from __future__ import annotations

from api.db import Connection
from api.errors import NotFoundError
from api.principal import Principal
from api.schemas.users import CareTeamOut

_TEAMS = """
SELECT t.id, t.name, t.organization_id,
       coalesce((SELECT array_agg(m.user_id ORDER BY m.user_id) FROM care_team_members m
                 WHERE m.care_team_id = t.id), '{}') AS member_ids,
       coalesce((SELECT array_agg(p.patient_id ORDER BY p.patient_id) FROM care_team_patients p
                 WHERE p.care_team_id = t.id), '{}') AS patient_ids
FROM care_teams t
WHERE t.organization_id = %(org)s AND (%(id)s::bigint IS NULL OR t.id = %(id)s)
ORDER BY t.id
"""


async def care_teams(
    conn: Connection, principal: Principal, *, team_id: int | None = None
) -> list[CareTeamOut]:
    cur = await conn.execute(_TEAMS, {"org": principal.organization_id, "id": team_id})
    return [CareTeamOut(**row) for row in await cur.fetchall()]


async def care_team(conn: Connection, principal: Principal, team_id: int) -> CareTeamOut:
    found = await care_teams(conn, principal, team_id=team_id)
    if not found:
        raise NotFoundError("no such care team")
    return found[0]


async def create(conn: Connection, principal: Principal, name: str) -> CareTeamOut:
    cur = await conn.execute(
        "INSERT INTO care_teams (organization_id, name) VALUES (%s, %s) RETURNING id",
        (principal.organization_id, name),
    )
    row = await cur.fetchone()
    assert row is not None
    return await care_team(conn, principal, row["id"])


async def add_member(conn: Connection, principal: Principal, team_id: int, user_id: int) -> None:
    await care_team(conn, principal, team_id)
    cur = await conn.execute(
        "SELECT 1 FROM users WHERE id = %s AND disabled_at IS NULL "
        "AND role IN ('clinician', 'nurse')",
        (user_id,),
    )
    if await cur.fetchone() is None:
        raise NotFoundError("no such clinician or nurse")
    await conn.execute(
        "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        (team_id, user_id),
    )


async def remove_member(conn: Connection, principal: Principal, team_id: int, user_id: int) -> None:
    await care_team(conn, principal, team_id)
    await conn.execute(
        "DELETE FROM care_team_members WHERE care_team_id = %s AND user_id = %s", (team_id, user_id)
    )


async def add_patient(
    conn: Connection, principal: Principal, team_id: int, patient_id: int
) -> None:
    await care_team(conn, principal, team_id)
    cur = await conn.execute(
        "SELECT 1 FROM patients WHERE id = %s AND organization_id = %s",
        (patient_id, principal.organization_id),
    )
    if await cur.fetchone() is None:
        raise NotFoundError("no such patient")
    await conn.execute(
        "INSERT INTO care_team_patients (care_team_id, patient_id) VALUES (%s, %s) "
        "ON CONFLICT DO NOTHING",
        (team_id, patient_id),
    )


async def remove_patient(
    conn: Connection, principal: Principal, team_id: int, patient_id: int
) -> None:
    await care_team(conn, principal, team_id)
    await conn.execute(
        "DELETE FROM care_team_patients WHERE care_team_id = %s AND patient_id = %s",
        (team_id, patient_id),
    )
