"""``/patients``: triage list, detail, registration, delivery identities."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.access import Scope, check_patient, require
from api.audit import Action
from api.deps import AuditorDep, CallerDep, roles
from api.principal import Principal, Role
from api.problem import responses
from api.queries import patients
from api.schemas.patients import Identity, PatientCreate, PatientDetail, TriageEntry

router = APIRouter(tags=["patients"])

# Rows per page: a ward's list fits on one page; more is paging.
DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_OFFSET = 1_000_000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
PatientId = Annotated[int, Query(ge=1, le=2**63 - 1)]


@router.get("/patients", responses=responses(HTTPStatus.FORBIDDEN))
async def triage_list(
    auditor: AuditorDep, caller: CallerDep, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
) -> list[TriageEntry]:
    """The caller's patients in triage order, with their latest readings."""
    require(caller, Scope.CARE)
    entries = await patients.triage(auditor.conn, caller, limit=limit, offset=offset)
    await auditor.record(
        [entry.patient_id for entry in entries], action=Action.SEARCH, resource="patients"
    )
    return entries


@router.post(
    "/patients",
    status_code=HTTPStatus.CREATED,
    responses=responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
async def register_patient(
    auditor: AuditorDep,
    caller: Annotated[Principal, Depends(roles(Role.ORGANIZATION_ADMIN))],
    body: PatientCreate,
) -> Identity:
    """Register a patient of the caller's organization (organization admins)."""
    async with auditor.conn.transaction():
        created = await patients.register(auditor.conn, caller, body)
        await auditor.record([created.patient_id], action=Action.CREATE, resource="patients")
    return created


@router.get(
    "/patients/{patient_id}",
    responses=responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
)
async def patient_detail(auditor: AuditorDep, caller: CallerDep, patient_id: int) -> PatientDetail:
    """A patient's identity, care teams, devices, open alerts and latest readings."""
    resource = "patients/{patient_id}"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.CARE, action=Action.READ, resource=resource
    )
    conn = auditor.conn
    detail = PatientDetail(
        identity=await patients.identity(conn, caller, patient_id),
        care_teams=await patients.care_teams(conn, patient_id),
        devices=await patients.assigned_devices(conn, patient_id),
        open_alerts=await patients.open_alerts(conn, patient_id),
        latest=(await patients.latest_readings(conn, [patient_id])).get(patient_id, []),
    )
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return detail


@router.get("/identities", responses=responses(HTTPStatus.FORBIDDEN))
async def identity_list(
    auditor: AuditorDep, caller: CallerDep, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
) -> list[Identity]:
    """Delivery identities (name, address, phone) of the patients the caller may see."""
    require(caller, Scope.IDENTITY)
    found = await patients.identities(auditor.conn, caller, limit=limit, offset=offset)
    await auditor.record(
        [identity.patient_id for identity in found], action=Action.SEARCH, resource="identities"
    )
    return found


@router.get(
    "/identities/{patient_id}",
    responses=responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
)
async def identity_detail(auditor: AuditorDep, caller: CallerDep, patient_id: int) -> Identity:
    """One patient's delivery identity."""
    resource = "identities/{patient_id}"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.IDENTITY, action=Action.READ, resource=resource
    )
    found = await patients.identity(auditor.conn, caller, patient_id)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found
