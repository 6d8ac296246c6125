"""``/audit``: who looked at a patient, what a user looked at; ``/me/audit`` for patients.

Auditors query their organization's patients and users; a patient sees who looked at
their own data (their right of access, reliability_security.md 4.3). Reading an audit
trail is itself recorded, per patient it names.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.access import Scope, check_patient
from api.audit import Action, AuditEntry, patient_trail, user_trail
from api.deps import AuditorDep, CallerDep, roles
from api.principal import Principal, Role
from api.problem import responses
from api.queries.users import get_user
from api.schemas.audit import AuditEntryOut

router = APIRouter(tags=["audit"])

DEFAULT_PAGE = 200
Limit = Annotated[int, Query(ge=1, le=5000)]
_ONE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


def _out(entries: list[AuditEntry]) -> list[AuditEntryOut]:
    return [AuditEntryOut(**asdict(entry)) for entry in entries]


@router.get("/audit/patients/{patient_id}", responses=_ONE)
async def patient_audit(
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: Limit = DEFAULT_PAGE,
) -> list[AuditEntryOut]:
    """Every recorded use of a patient's data, newest first (auditors of its organization)."""
    resource = "audit/patients/{patient_id}"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.AUDIT, action=Action.READ, resource=resource
    )
    found = await patient_trail(auditor.conn, patient_id, since=since, before=before, limit=limit)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return _out(found)


@router.get("/audit/users/{user_id}", responses=_ONE)
async def user_audit(
    auditor: AuditorDep,
    caller: Annotated[Principal, Depends(roles(Role.AUDITOR))],
    user_id: int,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: Limit = DEFAULT_PAGE,
) -> list[AuditEntryOut]:
    """Everything a user of the auditor's organization did, newest first."""
    await get_user(auditor.conn, user_id, organization_id=caller.organization_id)
    found = await user_trail(auditor.conn, user_id, since=since, before=before, limit=limit)
    await auditor.record(
        [entry.patient_id for entry in found if entry.patient_id is not None],
        action=Action.READ,
        resource="audit/users/{user_id}",
    )
    return _out(found)


@router.get("/me/audit", tags=["me"], responses=responses(HTTPStatus.FORBIDDEN))
async def own_audit(
    auditor: AuditorDep,
    caller: Annotated[Principal, Depends(roles(Role.PATIENT))],
    since: datetime | None = None,
    before: datetime | None = None,
    limit: Limit = DEFAULT_PAGE,
) -> list[AuditEntryOut]:
    """Who has looked at or changed the caller's data (patients), newest first."""
    assert caller.patient_id is not None  # a patient account names its patient
    found = await patient_trail(
        auditor.conn, caller.patient_id, since=since, before=before, limit=limit
    )
    await auditor.record([caller.patient_id], action=Action.READ, resource="me/audit")
    return _out(found)
