"""What the FHIR endpoints read: readings as rows, devices, in the caller's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from api.access import Scope, patients_subquery, scope_params
from api.db import Connection, Row
from api.fhir.resources import HASHED_PREFIX, ReadingRow
from api.principal import Principal
from api.queries.fleet import DEVICE_COLUMNS
from api.schemas.fleet import DeviceOut
from devices.reading import AbsentReason, Flag, Kind, Unit

# Rows fetched per round trip while exporting.
EXPORT_BATCH = 5000

_READINGS = """
SELECT r.patient_id, r.device_id, r.kind, r.value, r.unit, r.absent_reason, r.flags,
       r.measured_at
FROM readings r
WHERE r.patient_id IN ({scope})
  AND (%(patient)s::bigint IS NULL OR r.patient_id = %(patient)s)
  AND r.kind = ANY(%(kinds)s)
  AND (%(since)s::timestamptz IS NULL OR r.measured_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR r.measured_at < %(until)s)
  AND (%(received)s::timestamptz IS NULL OR r.received_at >= %(received)s)
ORDER BY r.patient_id, r.measured_at, r.device_id, r.kind
"""


def reading_row(row: Row) -> ReadingRow:
    return ReadingRow(
        patient_id=row["patient_id"],
        device_id=row["device_id"],
        kind=Kind(row["kind"]),
        value=row["value"],
        unit=Unit(row["unit"]),
        absent_reason=None if row["absent_reason"] is None else AbsentReason(row["absent_reason"]),
        flags=frozenset(Flag(flag) for flag in row["flags"]),
        measured_at=row["measured_at"],
    )


async def readings(
    conn: Connection,
    principal: Principal,
    *,
    patient_id: int | None,
    kinds: Sequence[Kind],
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[ReadingRow]:
    cur = await conn.execute(
        _READINGS.format(scope=patients_subquery(principal, Scope.READINGS)) + " LIMIT %(limit)s",
        {
            "patient": patient_id,
            "kinds": [kind.value for kind in kinds],
            "since": since,
            "until": until,
            "received": None,
            "limit": limit,
            **scope_params(principal),
        },
    )
    return [reading_row(row) for row in await cur.fetchall()]


async def stream_readings(
    conn: Connection,
    principal: Principal,
    *,
    kinds: Sequence[Kind],
    received_since: datetime | None,
) -> AsyncIterator[ReadingRow]:
    """Every reading in scope, through a server-side cursor (for Bulk Data export)."""
    async with conn.transaction(), conn.cursor(name="fhir_export") as cur:
        await cur.execute(
            _READINGS.format(scope=patients_subquery(principal, Scope.READINGS)),
            {
                "patient": None,
                "kinds": [kind.value for kind in kinds],
                "since": None,
                "until": None,
                "received": received_since,
                **scope_params(principal),
            },
        )
        while rows := await cur.fetchmany(EXPORT_BATCH):
            for row in rows:
                yield reading_row(row)


async def devices(
    conn: Connection,
    principal: Principal,
    *,
    fhir_id: str | None = None,
    patient_id: int | None = None,
    limit: int = 100,
) -> list[DeviceOut]:
    """Devices assigned now to patients the caller may see (care roles, the patient)."""
    cur = await conn.execute(
        f"""SELECT {DEVICE_COLUMNS}, a.patient_id
        FROM devices d JOIN device_assignments a ON a.device_id = d.id AND a.period @> now()
        WHERE a.patient_id IN ({patients_subquery(principal, Scope.READINGS)})
          AND (%(patient)s::bigint IS NULL OR a.patient_id = %(patient)s)
          AND (%(fhir)s::text IS NULL OR d.id = %(fhir)s
               OR %(hashed)s::text = left(encode(sha256(convert_to(d.id, 'UTF8')), 'hex'), 40))
        ORDER BY d.id LIMIT %(limit)s""",
        {
            "patient": patient_id,
            "fhir": fhir_id,
            "hashed": fhir_id[len(HASHED_PREFIX) :]
            if fhir_id is not None and fhir_id.startswith(HASHED_PREFIX)
            else None,
            "limit": limit,
            **scope_params(principal),
        },
    )
    return [DeviceOut(**row) for row in await cur.fetchall()]
