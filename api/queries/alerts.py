"""Alerts: clinical ones scoped to the caller's patients, technical ones to their fleet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.access import Scope, patients_subquery, scope_params
from api.db import Connection
from api.errors import NotFoundError
from api.principal import Principal
from api.schemas.alerts import AlertEvent, ClinicalAlert, OwnAlert, TechnicalAlert
from devices.reading import Kind
from ingest.alert import AlertStatus, Audience
from ingest.threshold import Severity

_CLINICAL_COLUMNS = ", ".join(f"a.{name}" for name in ClinicalAlert.model_fields)
_TECHNICAL_COLUMNS = ", ".join(f"a.{name}" for name in TechnicalAlert.model_fields)
_OWN_COLUMNS = ", ".join(f"a.{name}" for name in OwnAlert.model_fields)

_FILTERS = """
  AND (%(patient)s::bigint IS NULL OR a.patient_id = %(patient)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(status)s::text IS NULL OR a.status = %(status)s)
  AND (%(kind)s::text IS NULL OR a.kind = %(kind)s)
  AND (%(condition)s::text IS NULL OR a.condition = %(condition)s)
  AND (%(alert)s::bigint IS NULL OR a.id = %(alert)s)
"""
_ORDER = """
ORDER BY a.status = 'resolved', alert_severity_rank(a.severity) DESC, a.first_at, a.id
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertFilter:
    patient_id: int | None = None
    severity: Severity | None = None
    status: AlertStatus | None = None
    kind: Kind | None = None
    condition: str | None = None
    alert_id: int | None = None
    limit: int = 100
    offset: int = 0

    def params(self) -> dict[str, Any]:
        return {
            "patient": self.patient_id,
            "severity": self.severity,
            "status": self.status,
            "kind": self.kind,
            "condition": self.condition,
            "alert": self.alert_id,
            "limit": self.limit,
            "offset": self.offset,
        }


async def clinical_alerts(
    conn: Connection, principal: Principal, where: AlertFilter
) -> list[ClinicalAlert]:
    cur = await conn.execute(
        f"""SELECT {_CLINICAL_COLUMNS} FROM alerts a
        WHERE a.audience = 'clinical'
          AND a.patient_id IN ({patients_subquery(principal, Scope.CARE)}) {_FILTERS} {_ORDER}""",
        {**where.params(), **scope_params(principal)},
    )
    return [ClinicalAlert(**row) for row in await cur.fetchall()]


async def technical_alerts(
    conn: Connection, principal: Principal, where: AlertFilter
) -> list[TechnicalAlert]:
    cur = await conn.execute(
        f"""SELECT {_TECHNICAL_COLUMNS} FROM alerts a
        WHERE a.audience = 'technical' AND a.organization_id = %(scope_org)s
        {_FILTERS} {_ORDER}""",
        {**where.params(), **scope_params(principal)},
    )
    return [TechnicalAlert(**row) for row in await cur.fetchall()]


async def own_alerts(conn: Connection, principal: Principal, *, limit: int) -> list[OwnAlert]:
    cur = await conn.execute(
        f"""SELECT {_OWN_COLUMNS} FROM alerts a
        WHERE a.audience = 'clinical' AND a.patient_id = %(scope_patient)s
        ORDER BY a.first_at DESC, a.id DESC LIMIT %(limit)s""",
        {"limit": limit, **scope_params(principal)},
    )
    return [OwnAlert(**row) for row in await cur.fetchall()]


async def alert_subject(conn: Connection, alert_id: int) -> tuple[Audience, int | None, int] | None:
    """The audience, patient and organization of an alert, unscoped (for auditing)."""
    cur = await conn.execute(
        "SELECT audience, patient_id, organization_id FROM alerts WHERE id = %s", (alert_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return Audience(row["audience"]), row["patient_id"], row["organization_id"]


async def events(conn: Connection, alert_id: int) -> list[AlertEvent]:
    """An alert's lifecycle steps, oldest first (callers checked access)."""
    cur = await conn.execute(
        "SELECT event, at, severity FROM alert_events WHERE alert_id = %s ORDER BY at, id",
        (alert_id,),
    )
    return [AlertEvent(**row) for row in await cur.fetchall()]


async def clinical_alert(conn: Connection, principal: Principal, alert_id: int) -> ClinicalAlert:
    found = await clinical_alerts(conn, principal, AlertFilter(alert_id=alert_id, limit=1))
    if not found:
        raise NotFoundError("no such alert")
    return found[0]


async def technical_alert(conn: Connection, principal: Principal, alert_id: int) -> TechnicalAlert:
    found = await technical_alerts(conn, principal, AlertFilter(alert_id=alert_id, limit=1))
    if not found:
        raise NotFoundError("no such alert")
    return found[0]
