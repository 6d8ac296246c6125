"""The fleet page for municipalities: devices, gateways, technical alerts, actions.

Fleet managers only, through the api's fleet route functions (same organization scope,
same audit). A fleet manager sees a citizen's delivery identity, never readings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.access import FLEET_ROLES
from api.deps import ConnectionDep
from api.errors import ApiError, ForbiddenError, NotFoundError
from api.lifecycle import TRANSITIONS, DeviceState
from api.routes import alerts as alert_routes
from api.routes import fleet as fleet_routes
from api.routes import patients as patient_routes
from api.routes.auth import MAX_FIELD
from api.schemas.alerts import AcknowledgeBody
from api.schemas.fleet import AssignmentCreate, AssignmentEnd, Transition
from api.web import cookie
from api.web.cookie import WebSession
from api.web.render import auditor_for, error_page, page
from api.web.signin import FLEET_PATH, see_other
from ingest.alert import AlertStatus

router = APIRouter(include_in_schema=False)

# Rows per table: the api's largest fleet page.
PAGE = 1000
IDENTITIES = patient_routes.MAX_PAGE


@router.get(FLEET_PATH)
async def fleet_page(request: Request, conn: ConnectionDep) -> Response:
    web = await cookie.session(request, conn)
    caller = web.principal
    if caller.role not in FLEET_ROLES:
        return error_page(request, web, ForbiddenError("not a fleet manager"))
    auditor = auditor_for(request, conn, web)
    devices = await fleet_routes.device_list(auditor, caller, limit=PAGE)
    gateways = await fleet_routes.gateway_list(auditor, caller, limit=PAGE)
    technical = await alert_routes.technical_alert_list(
        auditor, caller, status=AlertStatus.OPEN, limit=PAGE
    )
    names = {
        found.patient_id: found.name
        for found in await patient_routes.identity_list(auditor, caller, limit=IDENTITIES)
    }
    return page(
        request,
        "fleet.html",
        web=web,
        devices=devices,
        gateways=gateways,
        technical=technical,
        names=names,
        next_states={device.id: sorted(TRANSITIONS[device.lifecycle_state]) for device in devices},
    )


async def _act(
    request: Request,
    conn: ConnectionDep,
    csrf: str,
    action: Callable[[WebSession], Awaitable[object]],
) -> Response:
    """Run a fleet action for the signed-in fleet manager, then show the fleet again."""
    web = await cookie.session(request, conn)
    try:
        cookie.check_csrf(web, csrf)
        if web.principal.role not in FLEET_ROLES:
            raise ForbiddenError("not a fleet manager")
        await action(web)
    except ApiError as exc:
        return error_page(request, web, exc)
    return see_other(FLEET_PATH, web)


Csrf = Annotated[str, Form(max_length=MAX_FIELD)]


@router.post(f"{FLEET_PATH}/devices/{{device_id}}/transition")
async def device_transition(
    request: Request, conn: ConnectionDep, device_id: str, csrf: Csrf, to: Annotated[str, Form()]
) -> Response:
    async def act(web: WebSession) -> object:
        try:
            state = DeviceState(to)
        except ValueError as exc:
            raise NotFoundError("no such lifecycle state") from exc
        return await fleet_routes.device_transition(
            auditor_for(request, conn, web), web.principal, device_id, Transition(to=state)
        )

    return await _act(request, conn, csrf, act)


@router.post(f"{FLEET_PATH}/devices/{{device_id}}/assign")
async def device_assign(
    request: Request,
    conn: ConnectionDep,
    device_id: str,
    csrf: Csrf,
    patient_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> Response:
    async def act(web: WebSession) -> object:
        return await fleet_routes.device_assign(
            auditor_for(request, conn, web),
            web.principal,
            device_id,
            AssignmentCreate(patient_id=patient_id),
        )

    return await _act(request, conn, csrf, act)


@router.post(f"{FLEET_PATH}/devices/{{device_id}}/unassign")
async def device_unassign(
    request: Request, conn: ConnectionDep, device_id: str, csrf: Csrf
) -> Response:
    async def act(web: WebSession) -> object:
        auditor = auditor_for(request, conn, web)
        periods = await fleet_routes.device_assignments(auditor, web.principal, device_id)
        current = [period for period in periods if period.until is None]
        if not current:
            raise NotFoundError("the device is not assigned")
        return await fleet_routes.assignment_end(
            auditor, web.principal, current[0].id, AssignmentEnd()
        )

    return await _act(request, conn, csrf, act)


@router.post(f"{FLEET_PATH}/alerts/{{alert_id}}/acknowledge")
async def technical_acknowledge(
    request: Request, conn: ConnectionDep, alert_id: int, csrf: Csrf
) -> Response:
    async def act(web: WebSession) -> object:
        return await alert_routes.technical_alert_acknowledge(
            request, auditor_for(request, conn, web), web.principal, alert_id, AcknowledgeBody()
        )

    return await _act(request, conn, csrf, act)
