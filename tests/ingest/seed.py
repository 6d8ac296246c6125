"""Rows the database tests need before readings make sense (organizations, patients, devices)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.range import Range

Connection = psycopg.Connection[Any]


def add_organization(
    conn: Connection, *, name: str = "Aarhus Kommune", kind: str = "municipality"
) -> int:
    row = conn.execute(
        "INSERT INTO organizations (kind, name) VALUES (%s, %s) RETURNING id", (kind, name)
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_patient(conn: Connection, organization_id: int, *, name: str = "Citizen") -> int:
    row = conn.execute(
        "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id", (organization_id,)
    ).fetchone()
    assert row is not None
    patient_id = int(row[0])
    conn.execute(
        "INSERT INTO patient_identity (patient_id, name) VALUES (%s, %s)", (patient_id, name)
    )
    return patient_id


def add_device(
    conn: Connection, organization_id: int, device_id: str, *, model: str = "bm-test"
) -> str:
    conn.execute(
        "INSERT INTO devices (id, organization_id, model, serial_number) VALUES (%s, %s, %s, %s)",
        (device_id, organization_id, model, device_id),
    )
    return device_id


def assign(
    conn: Connection,
    device_id: str,
    patient_id: int,
    start: datetime,
    end: datetime | None = None,
) -> None:
    conn.execute(
        "INSERT INTO device_assignments (device_id, patient_id, period) VALUES (%s, %s, %s)",
        (device_id, patient_id, Range(start, end, "[)")),
    )
