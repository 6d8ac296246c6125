"""``/alerts`` (clinical, care roles), ``/fleet/alerts`` (technical), ``/me/alerts``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.access import Scope, require, require_fleet
from api.audit import Action, Auditor, Outcome
from api.db import SyncConnection, in_sync_transaction
from api.deps import AuditorDep, CallerDep, roles
from api.errors import ConflictError, ForbiddenError, NotFoundError
from api.principal import Principal, Role
from api.problem import responses
from api.queries import alerts
from api.queries.alerts import AlertFilter
from api.schemas.alerts import (
    AcknowledgeBody,
    AlertEvent,
    ClinicalAlert,
    OwnAlert,
    TechnicalAlert,
)
from devices.reading import Kind
from ingest.alert import AlertStatus
from ingest.alert_store import AlertNotFoundError, AlertStateError, acknowledge, resolve
from ingest.threshold import Severity

router = APIRouter(tags=["alerts"])

DEFAULT_PAGE = 100
MAX_PAGE = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Condition = Annotated[str | None, Query(min_length=1, max_length=64)]
_ONE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_CONFLICT = responses(HTTPStatus.CONFLICT)


async def audit_alert_denied(
    auditor: Auditor, alert_id: int, *, action: Action, resource: str
) -> None:
    """Record a refused use of an alert, naming its patient when it has one."""
    subject = await alerts.alert_subject(auditor.conn, alert_id)
    patient = None if subject is None else subject[1]
    await auditor.denied(patient, action=action, resource=resource)


@router.get("/alerts", responses=responses(HTTPStatus.FORBIDDEN))
async def clinical_alert_list(
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int | None = None,
    severity: Severity | None = None,
    status: AlertStatus | None = None,
    kind: Kind | None = None,
    condition: Condition = None,
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> list[ClinicalAlert]:
    """Clinical alerts of the caller's patients: unresolved first, worst first, oldest first."""
    require(caller, Scope.CARE)
    where = AlertFilter(
        patient_id=patient_id,
        severity=severity,
        status=status,
        kind=kind,
        condition=condition,
        limit=limit,
        offset=offset,
    )
    found = await alerts.clinical_alerts(auditor.conn, caller, where)
    await auditor.record([a.patient_id for a in found], action=Action.SEARCH, resource="alerts")
    return found


async def visible_clinical_alert(
    auditor: Auditor,
    caller: Principal,
    alert_id: int,
    *,
    resource: str,
    action: Action = Action.READ,
) -> ClinicalAlert:
    """The clinical alert if the caller may see it; a refusal is audited."""
    try:
        require(caller, Scope.CARE)
        return await alerts.clinical_alert(auditor.conn, caller, alert_id)
    except (ForbiddenError, NotFoundError):
        await audit_alert_denied(auditor, alert_id, action=action, resource=resource)
        raise


@router.get("/alerts/{alert_id}", responses=_ONE)
async def clinical_alert_detail(
    auditor: AuditorDep, caller: CallerDep, alert_id: int
) -> ClinicalAlert:
    resource = "alerts/{alert_id}"
    found = await visible_clinical_alert(auditor, caller, alert_id, resource=resource)
    await auditor.record([found.patient_id], action=Action.READ, resource=resource)
    return found


@router.get("/alerts/{alert_id}/history", responses=_ONE)
async def clinical_alert_history(
    auditor: AuditorDep, caller: CallerDep, alert_id: int
) -> list[AlertEvent]:
    """The alert's lifecycle: raised, severity raised, escalated, acknowledged, resolved."""
    resource = "alerts/{alert_id}/history"
    found = await visible_clinical_alert(auditor, caller, alert_id, resource=resource)
    history = await alerts.events(auditor.conn, alert_id)
    await auditor.record([found.patient_id], action=Action.READ, resource=resource)
    return history


@router.post("/alerts/{alert_id}/acknowledge", responses={**_ONE, **_CONFLICT})
async def clinical_alert_acknowledge(
    request: Request, auditor: AuditorDep, caller: CallerDep, alert_id: int, body: AcknowledgeBody
) -> ClinicalAlert:
    """Acknowledge an open alert, with an optional note (clinicians and nurses)."""
    resource = "alerts/{alert_id}/acknowledge"
    found = await visible_clinical_alert(
        auditor, caller, alert_id, resource=resource, action=Action.ACKNOWLEDGE
    )
    await change_alert(
        request,
        auditor,
        found.id,
        [found.patient_id],
        action=Action.ACKNOWLEDGE,
        resource=resource,
        note=body.note,
    )
    return await alerts.clinical_alert(auditor.conn, caller, alert_id)


@router.post("/alerts/{alert_id}/resolve", responses={**_ONE, **_CONFLICT})
async def clinical_alert_resolve(
    request: Request, auditor: AuditorDep, caller: CallerDep, alert_id: int
) -> ClinicalAlert:
    """Resolve an alert by hand (clinicians and nurses)."""
    resource = "alerts/{alert_id}/resolve"
    found = await visible_clinical_alert(
        auditor, caller, alert_id, resource=resource, action=Action.RESOLVE
    )
    await change_alert(
        request, auditor, found.id, [found.patient_id], action=Action.RESOLVE, resource=resource
    )
    return await alerts.clinical_alert(auditor.conn, caller, alert_id)


async def change_alert(
    request: Request,
    auditor: Auditor,
    alert_id: int,
    patients: list[int | None],
    *,
    action: Action,
    resource: str,
    note: str | None = None,
) -> None:
    """Acknowledge or resolve through ingest's alert store, audited in the same commit."""
    by = None if auditor.principal is None else auditor.principal.user_id
    assert by is not None  # only authenticated callers reach a change

    def change(conn: SyncConnection) -> None:
        if action is Action.ACKNOWLEDGE:
            acknowledge(conn, alert_id, by=by, note=note)
        else:
            resolve(conn, alert_id, by=by)
        auditor.record_sync(conn, patients, action=action, resource=resource)

    try:
        await in_sync_transaction(request.app.state.sync_pool, change)
    except AlertNotFoundError as exc:
        raise NotFoundError("no such alert") from exc
    except AlertStateError as exc:
        await auditor.record(patients, action=action, resource=resource, outcome=Outcome.ERROR)
        raise ConflictError(str(exc)) from exc


@router.get("/fleet/alerts", tags=["fleet"], responses=responses(HTTPStatus.FORBIDDEN))
async def technical_alert_list(
    auditor: AuditorDep,
    caller: CallerDep,
    severity: Severity | None = None,
    status: AlertStatus | None = None,
    condition: Condition = None,
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> list[TechnicalAlert]:
    """Technical alerts (gateways, devices) of the caller's organization."""
    require_fleet(caller)
    where = AlertFilter(
        severity=severity, status=status, condition=condition, limit=limit, offset=offset
    )
    found = await alerts.technical_alerts(auditor.conn, caller, where)
    await auditor.record(
        [a.patient_id for a in found if a.patient_id is not None],
        action=Action.SEARCH,
        resource="fleet/alerts",
    )
    return found


@router.get("/fleet/alerts/{alert_id}", tags=["fleet"], responses=_ONE)
async def technical_alert_detail(
    auditor: AuditorDep, caller: CallerDep, alert_id: int
) -> TechnicalAlert:
    require_fleet(caller)
    found = await alerts.technical_alert(auditor.conn, caller, alert_id)
    if found.patient_id is not None:
        await auditor.record(
            [found.patient_id], action=Action.READ, resource="fleet/alerts/{alert_id}"
        )
    return found


@router.post(
    "/fleet/alerts/{alert_id}/acknowledge", tags=["fleet"], responses={**_ONE, **_CONFLICT}
)
async def technical_alert_acknowledge(
    request: Request, auditor: AuditorDep, caller: CallerDep, alert_id: int, body: AcknowledgeBody
) -> TechnicalAlert:
    require_fleet(caller)
    found = await alerts.technical_alert(auditor.conn, caller, alert_id)
    await change_alert(
        request,
        auditor,
        alert_id,
        [found.patient_id] if found.patient_id is not None else [],
        action=Action.ACKNOWLEDGE,
        resource="fleet/alerts/{alert_id}/acknowledge",
        note=body.note,
    )
    return await alerts.technical_alert(auditor.conn, caller, alert_id)


@router.post("/fleet/alerts/{alert_id}/resolve", tags=["fleet"], responses={**_ONE, **_CONFLICT})
async def technical_alert_resolve(
    request: Request, auditor: AuditorDep, caller: CallerDep, alert_id: int
) -> TechnicalAlert:
    require_fleet(caller)
    found = await alerts.technical_alert(auditor.conn, caller, alert_id)
    await change_alert(
        request,
        auditor,
        alert_id,
        [found.patient_id] if found.patient_id is not None else [],
        action=Action.RESOLVE,
        resource="fleet/alerts/{alert_id}/resolve",
    )
    return await alerts.technical_alert(auditor.conn, caller, alert_id)


@router.get("/me/alerts", tags=["me"], responses=responses(HTTPStatus.FORBIDDEN))
async def own_alert_list(
    auditor: AuditorDep,
    caller: Annotated[Principal, Depends(roles(Role.PATIENT))],
    limit: Limit = DEFAULT_PAGE,
) -> list[OwnAlert]:
    """The caller's own alerts (patients): severity and how they were handled."""
    found = await alerts.own_alerts(auditor.conn, caller, limit=limit)
    await auditor.record([caller.patient_id], action=Action.SEARCH, resource="me/alerts")
    return found
