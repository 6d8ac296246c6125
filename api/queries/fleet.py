"""Devices, assignments and gateways of the caller's organization (fleet managers).

Every query carries ``organization_id = %(org)s``: another organization's device or
gateway is as absent as a missing one. Lifecycle changes lock the device row, so two
managers changing one device at once are serialized and each sees the state it changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.db import Connection, Jsonb, Range
from api.errors import ConflictError, InvalidError, NotFoundError
from api.lifecycle import AFTER_UNASSIGN, DeviceState, check_transition
from api.principal import Principal
from api.schemas.fleet import (
    AssignmentOut,
    DeviceCreate,
    DeviceOut,
    GatewayConfigOut,
    GatewayOut,
)
from gateway.contract import Channel, ContractError, check_device_id, check_gateway_id, topic

DEVICE_COLUMNS = """d.id, d.model, d.serial_number, d.bluetooth_address::text AS bluetooth_address,
       d.lifecycle_state, d.firmware_revision, d.battery_percent, d.rssi_dbm, d.last_seen,
       d.last_gateway_id, d.reported_model, d.reported_serial, d.clock_offset_s"""
_DEVICE = f"""
SELECT {DEVICE_COLUMNS},
       (SELECT a.patient_id FROM device_assignments a
        WHERE a.device_id = d.id AND a.period @> now()) AS patient_id
FROM devices d
WHERE d.organization_id = %(org)s
  AND (%(id)s::text IS NULL OR d.id = %(id)s)
  AND (%(state)s::text IS NULL OR d.lifecycle_state = %(state)s)
ORDER BY d.id
LIMIT %(limit)s OFFSET %(offset)s
"""
_ASSIGNMENT = """
SELECT a.id, a.device_id, a.patient_id, lower(a.period) AS since, upper(a.period) AS until,
       a.assigned_by
FROM device_assignments a JOIN devices d ON d.id = a.device_id
WHERE d.organization_id = %(org)s AND (%(device)s::text IS NULL OR a.device_id = %(device)s)
  AND (%(id)s::bigint IS NULL OR a.id = %(id)s)
ORDER BY lower(a.period) DESC, a.id DESC
LIMIT %(limit)s
"""
_GATEWAY = """
SELECT g.id, g.state, g.software_version, g.outbox_depth, g.status_flags, g.status_at,
       g.last_seen
FROM gateways g
WHERE g.organization_id = %(org)s AND (%(id)s::text IS NULL OR g.id = %(id)s)
ORDER BY g.id LIMIT %(limit)s OFFSET %(offset)s
"""
MAX_ASSIGNMENTS = 1000


def _check(check: Any, value: str) -> None:
    try:
        check(value)
    except ContractError as exc:
        raise InvalidError(str(exc)) from exc


async def devices(
    conn: Connection,
    principal: Principal,
    *,
    state: DeviceState | None = None,
    device_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeviceOut]:
    cur = await conn.execute(
        _DEVICE,
        {
            "org": principal.organization_id,
            "id": device_id,
            "state": state,
            "limit": limit,
            "offset": offset,
        },
    )
    return [DeviceOut(**row) for row in await cur.fetchall()]


async def device(conn: Connection, principal: Principal, device_id: str) -> DeviceOut:
    found = await devices(conn, principal, device_id=device_id, limit=1)
    if not found:
        raise NotFoundError("no such device")
    return found[0]


async def register_device(conn: Connection, principal: Principal, body: DeviceCreate) -> DeviceOut:
    _check(check_device_id, body.id)
    await conn.execute(
        """INSERT INTO devices (id, organization_id, model, serial_number, bluetooth_address)
        VALUES (%s, %s, %s, %s, %s)""",
        (
            body.id,
            principal.organization_id,
            body.model,
            body.serial_number,
            body.bluetooth_address,
        ),
    )
    return await device(conn, principal, body.id)


async def _locked_state(conn: Connection, principal: Principal, device_id: str) -> DeviceState:
    cur = await conn.execute(
        "SELECT lifecycle_state FROM devices WHERE id = %s AND organization_id = %s FOR UPDATE",
        (device_id, principal.organization_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("no such device")
    return DeviceState(row["lifecycle_state"])


async def _set_state(conn: Connection, device_id: str, state: DeviceState) -> None:
    await conn.execute("UPDATE devices SET lifecycle_state = %s WHERE id = %s", (state, device_id))


async def transition(
    conn: Connection, principal: Principal, device_id: str, target: DeviceState
) -> DeviceOut:
    async with conn.transaction():
        current = await _locked_state(conn, principal, device_id)
        check_transition(current, target, by_assignment=False)
        await _set_state(conn, device_id, target)
    return await device(conn, principal, device_id)


async def assignments(
    conn: Connection,
    principal: Principal,
    *,
    device_id: str | None = None,
    assignment_id: int | None = None,
) -> list[AssignmentOut]:
    cur = await conn.execute(
        _ASSIGNMENT,
        {
            "org": principal.organization_id,
            "device": device_id,
            "id": assignment_id,
            "limit": MAX_ASSIGNMENTS,
        },
    )
    return [AssignmentOut(**row) for row in await cur.fetchall()]


async def assign(
    conn: Connection, principal: Principal, device_id: str, *, patient_id: int, since: datetime
) -> AssignmentOut:
    """Assign an in-stock device to a patient of the organization from ``since`` on."""
    async with conn.transaction():
        current = await _locked_state(conn, principal, device_id)
        check_transition(current, DeviceState.ASSIGNED, by_assignment=True)
        cur = await conn.execute(
            "SELECT 1 FROM patients WHERE id = %s AND organization_id = %s",
            (patient_id, principal.organization_id),
        )
        if await cur.fetchone() is None:
            raise NotFoundError("no such patient")
        cur = await conn.execute(
            """INSERT INTO device_assignments (device_id, patient_id, period, assigned_by)
            VALUES (%s, %s, %s, %s) RETURNING id""",
            (device_id, patient_id, Range(since, None, "[)"), principal.user_id),
        )
        row = await cur.fetchone()
        assert row is not None
        await _set_state(conn, device_id, DeviceState.ASSIGNED)
    [created] = await assignments(conn, principal, assignment_id=row["id"])
    return created


async def end_assignment(
    conn: Connection, principal: Principal, assignment_id: int, *, until: datetime
) -> AssignmentOut:
    """Close an open assignment at ``until``; the device goes to stock or to collection."""
    async with conn.transaction():
        found = await assignments(conn, principal, assignment_id=assignment_id)
        if not found:
            raise NotFoundError("no such assignment")
        assignment = found[0]
        if assignment.until is not None:
            raise ConflictError("the assignment has ended already")
        if until <= assignment.since:
            raise InvalidError("an assignment must end after it starts")
        current = await _locked_state(conn, principal, assignment.device_id)
        await conn.execute(
            "UPDATE device_assignments SET period = tstzrange(lower(period), %s, '[)') "
            "WHERE id = %s",
            (until, assignment_id),
        )
        after = AFTER_UNASSIGN.get(current)
        if after is not None:
            check_transition(current, after, by_assignment=True)
            await _set_state(conn, assignment.device_id, after)
    [ended] = await assignments(conn, principal, assignment_id=assignment_id)
    return ended


async def gateways(
    conn: Connection,
    principal: Principal,
    *,
    gateway_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[GatewayOut]:
    cur = await conn.execute(
        _GATEWAY,
        {"org": principal.organization_id, "id": gateway_id, "limit": limit, "offset": offset},
    )
    return [GatewayOut(**row) for row in await cur.fetchall()]


async def gateway(conn: Connection, principal: Principal, gateway_id: str) -> GatewayOut:
    found = await gateways(conn, principal, gateway_id=gateway_id, limit=1)
    if not found:
        raise NotFoundError("no such gateway")
    return found[0]


async def register_gateway(conn: Connection, principal: Principal, gateway_id: str) -> GatewayOut:
    _check(check_gateway_id, gateway_id)
    await conn.execute(
        "INSERT INTO gateways (id, organization_id) VALUES (%s, %s)",
        (gateway_id, principal.organization_id),
    )
    return await gateway(conn, principal, gateway_id)


async def foreign_devices(
    conn: Connection, principal: Principal, device_ids: list[str]
) -> list[str]:
    """Those of ``device_ids`` that are not the caller's organization's devices."""
    cur = await conn.execute(
        "SELECT id FROM devices WHERE id = ANY(%s) AND organization_id = %s",
        (device_ids, principal.organization_id),
    )
    own = {row["id"] for row in await cur.fetchall()}
    return [device_id for device_id in device_ids if device_id not in own]


async def store_config(
    conn: Connection,
    principal: Principal,
    gateway_id: str,
    config: dict[str, Any],
    *,
    issued_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO gateway_configs (gateway_id, config, issued_at, issued_by)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (gateway_id) DO UPDATE SET config = excluded.config,
            issued_at = excluded.issued_at, issued_by = excluded.issued_by""",
        (gateway_id, Jsonb(config), issued_at, principal.user_id),
    )


async def stored_config(
    conn: Connection, principal: Principal, gateway_id: str
) -> GatewayConfigOut:
    await gateway(conn, principal, gateway_id)
    cur = await conn.execute(
        "SELECT gateway_id, config, issued_at, issued_by FROM gateway_configs "
        "WHERE gateway_id = %s",
        (gateway_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("no config pushed to this gateway yet")
    return GatewayConfigOut(topic=topic(gateway_id, Channel.CONFIG), **row)
