"""The audit record: one append-only row per patient touched, for every read or change.

Fields after the former Danish security order's minimum (time, user, kind of use, the
person concerned) and IHE BALP PatientRead (reference: reliability_security.md 4.3):
time, user, role, organization, patient, action, resource, outcome. Denied attempts
are recorded as well, with the patient the caller asked for. Records are inserted on
the request's own connection, so a change and its record commit together, and a read
whose record cannot be written fails instead of answering unaudited.

Queries: ``patient_trail`` (who looked at a patient: the patient's right of access,
Datatilsynet 2024 after CJEU C-579/21) and ``user_trail`` (what a user looked at).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from api.db import Connection, Jsonb, SyncConnection
from api.principal import Principal


class Action(StrEnum):
    """The kind of use; the values are ``audit_log.action``."""

    READ = "read"
    SEARCH = "search"
    EXPORT = "export"
    CREATE = "create"
    UPDATE = "update"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    LOGIN = "login"


class Outcome(StrEnum):
    """The values of ``audit_log.outcome`` (migration 0006)."""

    SUCCESS = "success"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One record as the trails show it."""

    at: datetime
    user_id: int | None
    user_display_name: str | None
    role: str | None
    organization_id: int | None
    organization_name: str | None
    patient_id: int | None
    action: str
    resource: str
    outcome: Outcome


_INSERT = """
INSERT INTO audit_log (user_id, role, organization_id, patient_id, action, resource, outcome,
                       detail, client_address, request_id)
SELECT %(user)s, %(role)s, %(org)s, patient, %(action)s, %(resource)s, %(outcome)s,
       %(detail)s, %(address)s::inet, %(request)s
FROM unnest(%(patients)s::bigint[]) AS patient
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Auditor:
    """Writes the audit records of one request."""

    conn: Connection
    principal: Principal | None
    client_address: str | None = None
    request_id: str | None = None

    async def record(
        self,
        patients: Iterable[int | None],
        *,
        action: Action,
        resource: str,
        outcome: Outcome = Outcome.SUCCESS,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """One record per distinct patient in ``patients``; returns how many were written."""
        params = self.params(
            patients, action=action, resource=resource, outcome=outcome, detail=detail
        )
        if not params["patients"]:
            return 0
        await self.conn.execute(_INSERT, params)
        return len(params["patients"])

    def record_sync(
        self,
        conn: SyncConnection,
        patients: Iterable[int | None],
        *,
        action: Action,
        resource: str,
    ) -> None:
        """``record`` on a blocking connection, inside a change made there (same commit)."""
        params = self.params(patients, action=action, resource=resource)
        if params["patients"]:
            conn.execute(_INSERT, params)

    def params(
        self,
        patients: Iterable[int | None],
        *,
        action: Action,
        resource: str,
        outcome: Outcome = Outcome.SUCCESS,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        principal = self.principal
        return {
            "user": None if principal is None else principal.user_id,
            "role": None if principal is None else principal.role.value,
            "org": None if principal is None else principal.organization_id,
            "action": action.value,
            "resource": resource,
            "outcome": outcome.value,
            "detail": None if detail is None else Jsonb(detail),
            "address": self.client_address,
            "request": self.request_id,
            "patients": list(dict.fromkeys(patients)),
        }

    async def denied(self, patient_id: int | None, *, action: Action, resource: str) -> None:
        await self.record([patient_id], action=action, resource=resource, outcome=Outcome.DENIED)


_TRAIL = """
SELECT a.at, a.user_id, u.display_name AS user_display_name, a.role, a.organization_id,
       o.name AS organization_name, a.patient_id, a.action, a.resource, a.outcome
FROM audit_log a
LEFT JOIN users u ON u.id = a.user_id
LEFT JOIN organizations o ON o.id = a.organization_id
WHERE {where}
  AND (%(since)s::timestamptz IS NULL OR a.at >= %(since)s)
  AND (%(before)s::timestamptz IS NULL OR a.at < %(before)s)
ORDER BY a.at DESC, a.id DESC
LIMIT %(limit)s
"""


def _entries(rows: list[dict[str, Any]]) -> list[AuditEntry]:
    return [AuditEntry(**{**row, "outcome": Outcome(row["outcome"])}) for row in rows]


async def patient_trail(
    conn: Connection,
    patient_id: int,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int,
) -> list[AuditEntry]:
    """Who did what with ``patient_id``'s data, newest first."""
    cur = await conn.execute(
        _TRAIL.format(where="a.patient_id = %(id)s"),
        {"id": patient_id, "since": since, "before": before, "limit": limit},
    )
    return _entries(await cur.fetchall())


async def user_trail(
    conn: Connection,
    user_id: int,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int,
) -> list[AuditEntry]:
    """What ``user_id`` did, newest first."""
    cur = await conn.execute(
        _TRAIL.format(where="a.user_id = %(id)s"),
        {"id": user_id, "since": since, "before": before, "limit": limit},
    )
    return _entries(await cur.fetchall())
