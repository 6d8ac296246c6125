"""``/fleet``: devices with their lifecycle, assignments, gateways and gateway configs.

Fleet managers only, each for their own organization. Responses carry no clinical
field (OWASP API3); a device's current patient id is there for delivery and
collection, and every response naming a patient is audited like any other look.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.audit import Action
from api.deps import AuditorDep, roles
from api.errors import InvalidError, NotFoundError, UnavailableError
from api.lifecycle import DeviceState
from api.mqtt import publish_config
from api.principal import Principal, Role
from api.problem import responses
from api.queries import fleet
from api.schemas.fleet import (
    AssignmentCreate,
    AssignmentEnd,
    AssignmentOut,
    DeviceCreate,
    DeviceOut,
    GatewayConfigIn,
    GatewayConfigOut,
    GatewayCreate,
    GatewayOut,
    Transition,
)
from devices.reading import utc_now
from gateway.contract import ContractError, DeviceAssignment, GatewayConfig, RemoteSettings

router = APIRouter(prefix="/fleet", tags=["fleet"])

FleetManager = Annotated[Principal, Depends(roles(Role.FLEET_MANAGER))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
_ONE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_CHANGE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT)


@router.get("/devices", responses=responses(HTTPStatus.FORBIDDEN))
async def device_list(
    auditor: AuditorDep,
    caller: FleetManager,
    state: DeviceState | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeviceOut]:
    """The organization's devices: model, serial, firmware, battery, last seen, state."""
    found = await fleet.devices(auditor.conn, caller, state=state, limit=limit, offset=offset)
    await auditor.record(
        [d.patient_id for d in found if d.patient_id is not None],
        action=Action.SEARCH,
        resource="fleet/devices",
    )
    return found


@router.post("/devices", status_code=HTTPStatus.CREATED, responses=_CHANGE)
async def device_create(auditor: AuditorDep, caller: FleetManager, body: DeviceCreate) -> DeviceOut:
    """Register a device, in stock."""
    return await fleet.register_device(auditor.conn, caller, body)


@router.get("/devices/{device_id}", responses=_ONE)
async def device_detail(auditor: AuditorDep, caller: FleetManager, device_id: str) -> DeviceOut:
    found = await fleet.device(auditor.conn, caller, device_id)
    if found.patient_id is not None:
        await auditor.record(
            [found.patient_id], action=Action.READ, resource="fleet/devices/{device_id}"
        )
    return found


@router.post("/devices/{device_id}/transitions", responses=_CHANGE)
async def device_transition(
    auditor: AuditorDep, caller: FleetManager, device_id: str, body: Transition
) -> DeviceOut:
    """Move a device along its lifecycle (delivered, collected, cleaned, retired ...)."""
    return await fleet.transition(auditor.conn, caller, device_id, body.to)


@router.get("/devices/{device_id}/assignments", responses=_ONE)
async def device_assignments(
    auditor: AuditorDep, caller: FleetManager, device_id: str
) -> list[AssignmentOut]:
    """Who had the device when, newest first."""
    await fleet.device(auditor.conn, caller, device_id)
    found = await fleet.assignments(auditor.conn, caller, device_id=device_id)
    await auditor.record(
        [a.patient_id for a in found],
        action=Action.SEARCH,
        resource="fleet/devices/{device_id}/assignments",
    )
    return found


@router.post("/devices/{device_id}/assignments", status_code=HTTPStatus.CREATED, responses=_CHANGE)
async def device_assign(
    auditor: AuditorDep, caller: FleetManager, device_id: str, body: AssignmentCreate
) -> AssignmentOut:
    """Assign an in-stock device to a patient of the organization (from now by default)."""
    since = body.since or utc_now()
    if since.utcoffset() is None:
        raise InvalidError("since needs a time zone")
    async with auditor.conn.transaction():
        created = await fleet.assign(
            auditor.conn, caller, device_id, patient_id=body.patient_id, since=since
        )
        await auditor.record(
            [body.patient_id],
            action=Action.CREATE,
            resource="fleet/devices/{device_id}/assignments",
        )
    return created


@router.post("/assignments/{assignment_id}/end", responses=_CHANGE)
async def assignment_end(
    auditor: AuditorDep, caller: FleetManager, assignment_id: int, body: AssignmentEnd
) -> AssignmentOut:
    """End an assignment (now by default): the device goes back to stock or to collection."""
    until = body.until or utc_now()
    if until.utcoffset() is None:
        raise InvalidError("until needs a time zone")
    async with auditor.conn.transaction():
        ended = await fleet.end_assignment(auditor.conn, caller, assignment_id, until=until)
        await auditor.record(
            [ended.patient_id],
            action=Action.UPDATE,
            resource="fleet/assignments/{assignment_id}/end",
        )
    return ended


@router.get("/gateways", responses=responses(HTTPStatus.FORBIDDEN))
async def gateway_list(
    auditor: AuditorDep, caller: FleetManager, limit: Limit = 100, offset: Offset = 0
) -> list[GatewayOut]:
    """The organization's gateways: online or offline, last seen, outbox depth, version."""
    return await fleet.gateways(auditor.conn, caller, limit=limit, offset=offset)


@router.post("/gateways", status_code=HTTPStatus.CREATED, responses=_CHANGE)
async def gateway_create(
    auditor: AuditorDep, caller: FleetManager, body: GatewayCreate
) -> GatewayOut:
    return await fleet.register_gateway(auditor.conn, caller, body.id)


@router.get("/gateways/{gateway_id}", responses=_ONE)
async def gateway_detail(auditor: AuditorDep, caller: FleetManager, gateway_id: str) -> GatewayOut:
    return await fleet.gateway(auditor.conn, caller, gateway_id)


@router.get("/gateways/{gateway_id}/config", responses=_ONE)
async def gateway_config(
    auditor: AuditorDep, caller: FleetManager, gateway_id: str
) -> GatewayConfigOut:
    """The config last published to the gateway."""
    return await fleet.stored_config(auditor.conn, caller, gateway_id)


@router.put(
    "/gateways/{gateway_id}/config",
    responses=responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.SERVICE_UNAVAILABLE),
)
async def gateway_config_push(
    request: Request,
    auditor: AuditorDep,
    caller: FleetManager,
    gateway_id: str,
    body: GatewayConfigIn,
) -> GatewayConfigOut:
    """Publish the gateway's device allowlist and settings on its retained config topic."""
    conn = auditor.conn
    await fleet.gateway(conn, caller, gateway_id)
    foreign = await fleet.foreign_devices(conn, caller, [d.device_id for d in body.devices])
    if foreign:
        raise NotFoundError(f"no such device: {', '.join(foreign)}")
    issued_at = utc_now()
    try:
        config = GatewayConfig(
            gateway_id=gateway_id,
            issued_at=issued_at,
            devices=tuple(
                DeviceAssignment(device_id=d.device_id, profile=d.profile) for d in body.devices
            ),
            settings=RemoteSettings(**body.settings.model_dump(exclude_none=True)),
        )
    except ContractError as exc:
        raise InvalidError(str(exc)) from exc
    broker = request.app.state.settings.broker
    if broker is None:
        raise UnavailableError("no MQTT broker is configured (TELECARE_MQTT_URL)")
    protocol = request.app.state.settings.mqtt_protocol
    await asyncio.to_thread(publish_config, broker, config, protocol=protocol)
    await fleet.store_config(conn, caller, gateway_id, config.to_json(), issued_at=issued_at)
    return await fleet.stored_config(conn, caller, gateway_id)
