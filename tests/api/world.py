"""A small world of organizations, teams, users, patients, devices, readings and alerts.

Three organizations: a region and two municipalities. Patient A belongs to the first
municipality and its care team A, whose members are a region clinician (cross-
organization care) and a municipal nurse; patient B to the same municipality's team B;
patient C to the other municipality's team C. Each organization has its fleet manager,
admin and auditor; patient A has an account. Readings, thresholds, clinical alerts per
patient and a technical alert per municipality complete it.

Users are named after who they are to patient A, so tests read as the access rules do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg.types.range import Range

from api.password import hash_password

# One hash for every seeded account: Argon2 is slow on purpose.
PASSWORD = "correct horse battery staple"
_HASH: list[str] = []

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
READING_STEP = timedelta(hours=1)
READINGS_PER_KIND = 12


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


@dataclass(kw_only=True)
class World:
    organizations: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)
    gateways: dict[str, str] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    assignments: dict[str, int] = field(default_factory=dict)
    # user name -> (role, organization id), to mint tokens without a login
    accounts: dict[str, tuple[str, int]] = field(default_factory=dict)

    def user(self, name: str) -> int:
        return self.users[name]


ORGANIZATIONS = (
    ("region", "region", "Region Midtjylland"),
    ("m1", "municipality", "Aarhus Kommune"),
    ("m2", "municipality", "Odense Kommune"),
)
TEAMS = (("a", "m1", "Lungeteam A"), ("b", "m1", "Hjerteteam B"), ("c", "m2", "KOL-team C"))
# name, organization, role, care teams
USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("clinician_a", "region", "clinician", ("a",)),
    ("nurse_a", "m1", "nurse", ("a",)),
    ("clinician_b", "m1", "clinician", ("b",)),
    ("nurse_c", "m2", "nurse", ("c",)),
    ("clinician_c", "m2", "clinician", ("c",)),
    ("fleet_m1", "m1", "fleet_manager", ()),
    ("fleet_m2", "m2", "fleet_manager", ()),
    ("admin_m1", "m1", "organization_admin", ()),
    ("admin_m2", "m2", "organization_admin", ()),
    ("auditor_m1", "m1", "auditor", ()),
    ("auditor_m2", "m2", "auditor", ()),
)
# name, organization, team, identity
PATIENTS = (
    ("a", "m1", "a", ("Anna Andersen", "Vestergade 1", "8000", "Aarhus C", "+4511111111")),
    ("b", "m1", "b", ("Bent Berg", "Nørregade 2", "8000", "Aarhus C", "+4522222222")),
    ("c", "m2", "c", ("Carla Christensen", "Østergade 3", "5000", "Odense C", "+4533333333")),
)
# device, organization, patient, model
DEVICES: tuple[tuple[str, str, str | None, str], ...] = (
    ("bp-a", "m1", "a", "omron-bp"),
    ("ox-a", "m1", "a", "nonin-3230"),
    ("bp-b", "m1", "b", "omron-bp"),
    ("bp-c", "m2", "c", "omron-bp"),
    ("spare-m1", "m1", None, "omron-bp"),
    ("spare-m2", "m2", None, "omron-bp"),
)
GATEWAYS = (("gw-m1", "m1"), ("gw-m2", "m2"))
# alert, patient, kind, condition, severity
CLINICAL_ALERTS: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("a", "a", "spo2", "spo2_low", "red"),
    ("b", "b", "systolic", "systolic_high", "yellow"),
    ("c", "c", None, "missing_measurement", "blue"),
)
LIMITS = ("red_low", "yellow_low", "yellow_high", "red_high")
THRESHOLDS = {
    "spo2": (85.0, 88.0, None, None),
    "systolic": (90.0, 100.0, 160.0, 180.0),
}
# kind, unit, device prefix, value pattern
READING_SERIES = (
    ("systolic", "mm[Hg]", "bp", 140.0),
    ("diastolic", "mm[Hg]", "bp", 85.0),
    ("pulse_rate", "/min", "bp", 72.0),
    ("spo2", "%", "ox", 93.0),
)


def _id(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def build_world(conn: psycopg.Connection[Any]) -> World:
    """Insert the world and commit; returns the ids."""
    world = World()
    for key, kind, name in ORGANIZATIONS:
        world.organizations[key] = _id(
            conn,
            "INSERT INTO organizations (kind, name) VALUES (%s, %s) RETURNING id",
            (kind, name),
        )
    org = world.organizations
    for key, owner, name in TEAMS:
        world.teams[key] = _id(
            conn,
            "INSERT INTO care_teams (organization_id, name) VALUES (%s, %s) RETURNING id",
            (org[owner], name),
        )
    for key, owner, team, (name, address, postal, city, phone) in PATIENTS:
        patient = _id(
            conn, "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id", (org[owner],)
        )
        world.patients[key] = patient
        conn.execute(
            """INSERT INTO patient_identity (patient_id, national_id, name, address, postal_code,
            city, phone) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (patient, f"0101{patient:06d}", name, address, postal, city, phone),
        )
        conn.execute(
            "INSERT INTO care_team_patients (care_team_id, patient_id) VALUES (%s, %s)",
            (world.teams[team], patient),
        )
    users = [*USERS, ("patient_a", "m1", "patient", ()), ("disabled_a", "m1", "nurse", ("a",))]
    for name, owner, role, teams in users:
        world.users[name] = _id(
            conn,
            """INSERT INTO users (organization_id, username, display_name, role, password_hash,
            patient_id, disabled_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                org[owner],
                name,
                name.replace("_", " ").title(),
                role,
                password_hash(),
                world.patients["a"] if role == "patient" else None,
                T0 if name.startswith("disabled") else None,
            ),
        )
        world.accounts[name] = (role, org[owner])
        for team in teams:
            conn.execute(
                "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s)",
                (world.teams[team], world.users[name]),
            )
    for gateway, owner in GATEWAYS:
        world.gateways[gateway] = gateway
        conn.execute(
            """INSERT INTO gateways (id, organization_id, state, software_version, outbox_depth,
            status_at, last_seen) VALUES (%s, %s, 'online', '1.0.0', 0, %s, %s)""",
            (gateway, org[owner], T0, T0),
        )
    for gateway, _ in GATEWAYS:
        config = {"v": 1, "gateway_id": gateway, "issued_at": "2026-11-01T00:00:00.000000Z"}
        conn.execute(
            "INSERT INTO gateway_configs (gateway_id, config, issued_at) VALUES (%s, %s, %s)",
            (gateway, Jsonb({**config, "devices": [], "settings": {}}), T0),
        )
    start = T0 - timedelta(days=30)
    for device, owner, holder, model in DEVICES:
        world.devices[device] = device
        state = "in_use" if holder else "in_stock"
        conn.execute(
            """INSERT INTO devices (id, organization_id, model, serial_number, lifecycle_state,
            firmware_revision, battery_percent, last_seen, last_gateway_id)
            VALUES (%s, %s, %s, %s, %s, '2.1', 80, %s, %s)""",
            (device, org[owner], model, f"SN-{device}", state, T0, f"gw-{owner}"),
        )
        if holder:
            world.assignments[device] = _id(
                conn,
                """INSERT INTO device_assignments (device_id, patient_id, period)
                VALUES (%s, %s, %s) RETURNING id""",
                (device, world.patients[holder], Range(start, None, "[)")),
            )
    _readings(conn, world)
    for patient_id in world.patients.values():
        for limited, (red_low, yellow_low, yellow_high, red_high) in THRESHOLDS.items():
            conn.execute(
                """INSERT INTO thresholds (patient_id, kind, red_low, yellow_low, yellow_high,
                red_high, program, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'copd', %s)""",
                (patient_id, limited, red_low, yellow_low, yellow_high, red_high, start),
            )
    for key, subject, alert_kind, condition, severity in CLINICAL_ALERTS:
        patient_id = world.patients[subject]
        owner = next(o for p, o, _, _ in PATIENTS if p == subject)
        world.alerts[key] = _id(
            conn,
            """INSERT INTO alerts (organization_id, audience, condition, patient_id, kind,
            severity, first_at, last_at, worst_value, thresholds)
            VALUES (%s, 'clinical', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                org[owner],
                condition,
                patient_id,
                alert_kind,
                severity,
                T0 - timedelta(hours=2),
                T0,
                None if alert_kind is None else 80.0,
                None
                if alert_kind is None
                else Jsonb(dict(zip(LIMITS, THRESHOLDS[alert_kind], strict=True))),
            ),
        )
    for gateway, owner in GATEWAYS:
        world.alerts[f"tech_{owner}"] = _id(
            conn,
            """INSERT INTO alerts (organization_id, audience, condition, gateway_id, severity,
            first_at, last_at) VALUES (%s, 'technical', 'gateway_offline', %s, 'yellow', %s, %s)
            RETURNING id""",
            (org[owner], gateway, T0 - timedelta(hours=1), T0),
        )
    conn.commit()
    return world


def _readings(conn: psycopg.Connection[Any], world: World) -> None:
    rows = []
    batch = "00000000-0000-4000-8000-000000000001"
    for patient_key, patient in world.patients.items():
        for kind, unit, prefix, base in READING_SERIES:
            device = f"{prefix}-{patient_key}"
            if device not in world.devices:
                continue
            for step in range(READINGS_PER_KIND):
                at = T0 - READING_STEP * (READINGS_PER_KIND - 1 - step)
                rows.append((at, device, kind, base + step, unit, patient, "gw-m1", at, batch))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
            gateway_id, received_at, batch_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
