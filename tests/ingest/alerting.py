"""Helpers for the alerting tests: an enrolled patient at home, readings, and a flush.

``flush`` does what the ingest service does per commit (store, then evaluate alerts, in
one transaction), without MQTT, so rule and lifecycle tests stay fast and exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.reading import KIND_CODES, AbsentReason, Flag, Kind, Reading, Unit
from ingest.alert import Alert
from ingest.alert_store import AlertChange, find_alerts
from ingest.evaluation import evaluate_stored
from ingest.monitoring_plan import enrol
from ingest.plausibility import Quarantined
from ingest.program import Program
from ingest.rules.settings import RuleSettings
from ingest.store import Arrival, store_batch
from tests.ingest.seed import add_device, add_organization, add_patient, assign

# Measurements happen from here on; patients were enrolled a month before.
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ENROLLED = T0 - timedelta(days=30)
# How long after measuring a reading normally arrives: well under LATE_AFTER.
ON_TIME = timedelta(seconds=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Home:
    organization_id: int
    patient_id: int
    cuff: str
    oximeter: str
    gateway: str


def add_gateway(conn: Any, organization_id: int, gateway_id: str, **columns: Any) -> str:
    names = ["id", "organization_id", *columns]
    conn.execute(
        f"INSERT INTO gateways ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
        (gateway_id, organization_id, *columns.values()),
    )
    return gateway_id


def add_user(conn: Any, *, role: str = "nurse") -> int:
    """A user (of a region of their own) to acknowledge and resolve with."""
    org = add_organization(conn, name=f"Region {uuid.uuid4().hex[:6]}", kind="region")
    row = conn.execute(
        "INSERT INTO users (organization_id, username, display_name, role) "
        "VALUES (%s, %s, 'Nurse', %s) RETURNING id",
        (org, f"{role}-{org}", role),
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def home(
    conn: Any,
    *,
    program: Program | None = Program.GENERAL,
    organization_id: int | None = None,
    suffix: str = "1",
    enrolled: datetime = ENROLLED,
) -> Home:
    """A patient with a cuff and an oximeter assigned since ``enrolled``, and a gateway."""
    org = organization_id or add_organization(conn, name=f"Kommune {uuid.uuid4().hex[:6]}")
    patient = add_patient(conn, org)
    cuff = add_device(conn, org, f"cuff-{suffix}")
    oximeter = add_device(conn, org, f"oximeter-{suffix}")
    gateway = add_gateway(conn, org, f"gw-{suffix}")
    assign(conn, cuff, patient, enrolled)
    assign(conn, oximeter, patient, enrolled)
    conn.commit()
    if program is not None:
        enrol(conn, patient, program, at=enrolled)
        conn.commit()
    return Home(
        organization_id=org, patient_id=patient, cuff=cuff, oximeter=oximeter, gateway=gateway
    )


def spot(
    kind: Kind,
    value: float | None,
    *,
    at: datetime = T0,
    device: str = "cuff-1",
    flags: Iterable[Flag] = (),
    unit: Unit | None = None,
    **fields: Any,
) -> Reading:
    return Reading(
        device_id=device,
        kind=kind,
        value=value,
        unit=unit or KIND_CODES[kind].unit,
        measured_at=at,
        flags=frozenset(flags),
        absent_reason=AbsentReason.NOT_A_NUMBER if value is None else None,
        **fields,
    )


def stream(
    values: Sequence[float | None],
    *,
    start: datetime = T0,
    kind: Kind = Kind.SPO2,
    device: str = "oximeter-1",
    flagged: Iterable[int] = (),
    every: timedelta = timedelta(seconds=1),
) -> list[Reading]:
    """Continuous samples ``every`` apart; samples at indexes ``flagged`` are questionable."""
    marked = set(flagged)
    return [
        Reading(
            device_id=device,
            kind=kind,
            value=value,
            unit=KIND_CODES[kind].unit,
            measured_at=start + every * index,
            flags=frozenset({Flag.QUESTIONABLE, Flag.ERRATIC_SIGNAL} if index in marked else ()),
            absent_reason=AbsentReason.NOT_A_NUMBER if value is None else None,
            continuous=True,
        )
        for index, value in enumerate(values)
    ]


def arrival(
    readings: Iterable[Reading],
    *,
    received_at: datetime | None = None,
    gateway: str = "gw-1",
    quarantined: Iterable[Quarantined] = (),
) -> Arrival:
    found = tuple(readings)
    latest = max((r.measured_at for r in found), default=T0)
    return Arrival(
        gateway_id=gateway,
        batch_id=uuid.uuid4(),
        received_at=received_at or latest + ON_TIME,
        readings=found,
        quarantined=tuple(quarantined),
    )


def flush(
    conn: Any,
    *readings: Reading,
    received_at: datetime | None = None,
    quarantined: Iterable[Quarantined] = (),
    settings: RuleSettings | None = None,
    now: datetime | None = None,
) -> list[AlertChange]:
    """Store and judge one gateway batch in one transaction, as ingest does."""
    batch = arrival(readings, received_at=received_at, quarantined=quarantined)
    with conn.transaction():
        result = store_batch(conn, [batch])
        changes = evaluate_stored(
            conn,
            [batch],
            result,
            settings=settings or RuleSettings(),
            now=now or batch.received_at,
        )
    return changes


def alerts(conn: Any, **filters: Any) -> list[Alert]:
    found = find_alerts(conn, **filters)
    if not conn.autocommit:
        conn.rollback()
    return found


def summary(alert: Alert) -> tuple[Any, ...]:
    """What most assertions compare: condition, severity, status, count, worst, late."""
    return (
        alert.condition,
        alert.severity.value,
        alert.status.value,
        alert.breach_count,
        alert.worst_value,
        alert.late,
    )
