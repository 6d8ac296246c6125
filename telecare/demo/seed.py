"""Write the demo's world (telecare/demo/plan.py) into a migrated database, once.

``seed`` does everything in one transaction and returns False without touching anything
when the demo's region already exists, so a second ``telecare demo`` reuses the data.
Patients are enrolled through ingest.monitoring_plan, as a clinician's enrolment would,
so thresholds and schedules are the programs' defaults.

Patients were enrolled and their devices delivered ``ENROLLED_BEFORE`` the seeding, so
the history the simulated devices hold (plan.HISTORY) belongs to them and is judged
against their thresholds when it arrives. Their schedules are watched from the seeding
on (``started_at``): that history reaches ingest only with the gateways' first
connection, and older slots would otherwise raise blue alerts in the seconds before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.password import hash_password
from api.principal import Role
from devices.reading import Kind
from devices.simulator.household import Household
from ingest.db import Connection
from ingest.monitoring_plan import enrol, set_schedule
from ingest.program import default_schedules
from ingest.schedule import DEFAULT_TIMEZONE, MeasurementSchedule
from telecare.demo.credentials import Credentials
from telecare.demo.plan import (
    AWAY_DUE_AFTER,
    AWAY_GRACE,
    ENROLLED_BEFORE,
    GATEWAYS,
    ORGANIZATION_NAMES,
    PATIENT_NAMES,
    PATIENT_USERNAME,
    TEAMS,
    USERS,
    GatewayPlan,
    Org,
)

# Devices delivered to a home are in use (migration 0003's fleet lifecycle).
IN_USE = "in_use"


def is_seeded(conn: Connection) -> bool:
    kind, name = ORGANIZATION_NAMES[Org.REGION]
    row = conn.execute(
        "SELECT 1 FROM organizations WHERE kind = %s AND name = %s", (kind.value, name)
    ).fetchone()
    return row is not None


def seed(conn: Connection, credentials: Credentials, *, now: datetime | None = None) -> bool:
    """Insert the plan; False (and nothing written) when it is already there."""
    at = now or datetime.now(UTC)
    with conn.transaction():
        if is_seeded(conn):
            return False
        organizations = {
            org: _id(
                conn,
                "INSERT INTO organizations (kind, name) VALUES (%s, %s) RETURNING id",
                (kind.value, name),
            )
            for org, (kind, name) in ORGANIZATION_NAMES.items()
        }
        teams = {
            team.key: _id(
                conn,
                "INSERT INTO care_teams (organization_id, name) VALUES (%s, %s) RETURNING id",
                (organizations[team.organization], team.name),
            )
            for team in TEAMS
        }
        clinician = _users(conn, credentials.passwords, organizations=organizations, teams=teams)
        names = iter(PATIENT_NAMES)
        first_patient: int | None = None
        for gateway in GATEWAYS:
            patients = _gateway(
                conn, gateway, names=names, organizations=organizations, teams=teams, at=at
            )
            for patient_id in patients:
                enrol(conn, patient_id, gateway.program, by=clinician, at=at - ENROLLED_BEFORE)
                for schedule in default_schedules(gateway.program):
                    set_schedule(conn, patient_id, schedule, by=clinician, at=at)
                if not gateway.runs:
                    set_schedule(conn, patient_id, _away_schedule(at), by=clinician, at=at)
            if first_patient is None:
                first_patient = patients[0]
        assert first_patient is not None
        conn.execute(
            """INSERT INTO users (organization_id, username, display_name, role, password_hash,
            patient_id) VALUES (%s, %s, %s, %s, %s, %s)""",
            (
                organizations[GATEWAYS[0].organization],
                PATIENT_USERNAME,
                PATIENT_NAMES[0],
                Role.PATIENT.value,
                hash_password(credentials.passwords[PATIENT_USERNAME]),
                first_patient,
            ),
        )
    return True


def started_at(conn: Connection) -> datetime | None:
    """When the demo's world was seeded (its schedules are watched from then); None before."""
    names = [name for _, name in ORGANIZATION_NAMES.values()]
    row = conn.execute(
        """SELECT min(s.active_from) FROM measurement_schedules s
        JOIN patients p ON p.id = s.patient_id
        JOIN organizations o ON o.id = p.organization_id
        WHERE o.name = ANY(%s)""",
        (names,),
    ).fetchone()
    return None if row is None else row[0]


def usernames() -> tuple[str, ...]:
    """Every demo login, in the order they are printed."""
    return (*(user.username for user in USERS), PATIENT_USERNAME)


def _users(
    conn: Connection,
    passwords: Mapping[str, str],
    *,
    organizations: Mapping[Org, int],
    teams: Mapping[str, int],
) -> int:
    """Insert the staff; returns the clinician's id (who enrols the patients)."""
    clinician = 0
    for user in USERS:
        user_id = _id(
            conn,
            """INSERT INTO users (organization_id, username, display_name, role, password_hash)
            VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (
                organizations[user.organization],
                user.username,
                user.display_name,
                user.role.value,
                hash_password(passwords[user.username]),
            ),
        )
        for team in user.teams:
            conn.execute(
                "INSERT INTO care_team_members (care_team_id, user_id) VALUES (%s, %s)",
                (teams[team], user_id),
            )
        if user.role is Role.CLINICIAN:
            clinician = user_id
    return clinician


def _gateway(
    conn: Connection,
    gateway: GatewayPlan,
    *,
    names: Iterator[str],
    organizations: Mapping[Org, int],
    teams: Mapping[str, int],
    at: datetime,
) -> list[int]:
    """The gateway, its households' patients and devices; returns the patient ids."""
    organization_id = organizations[gateway.organization]
    conn.execute(
        "INSERT INTO gateways (id, organization_id) VALUES (%s, %s)",
        (gateway.gateway_id, organization_id),
    )
    patients = []
    for seed in gateway.seeds:
        patient_id = _id(
            conn,
            "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id",
            (organization_id,),
        )
        conn.execute(
            "INSERT INTO patient_identity (patient_id, name, city) VALUES (%s, %s, %s)",
            (patient_id, next(names), "Aarhus"),
        )
        conn.execute(
            "INSERT INTO care_team_patients (care_team_id, patient_id) VALUES (%s, %s)",
            (teams[gateway.team], patient_id),
        )
        home = Household(seed=seed, start=at)
        for identity in (home.monitor.identity, home.oximeter.identity):
            conn.execute(
                """INSERT INTO devices (id, organization_id, model, serial_number,
                bluetooth_address, lifecycle_state, firmware_revision)
                VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                (
                    identity.address,
                    organization_id,
                    identity.model,
                    identity.serial,
                    identity.address,
                    IN_USE,
                    identity.firmware_revision,
                ),
            )
            conn.execute(
                """INSERT INTO device_assignments (device_id, patient_id, period)
                VALUES (%s, %s, tstzrange(%s, NULL, '[)'))""",
                (identity.address, patient_id, at - ENROLLED_BEFORE),
            )
        patients.append(patient_id)
    return patients


def _away_schedule(at: datetime) -> MeasurementSchedule:
    """Blood pressure due shortly after ``at``: missed, since the gateway is away."""
    due = (at + AWAY_DUE_AFTER).astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    return MeasurementSchedule(
        kind=Kind.SYSTOLIC,
        times=(due.time().replace(second=0, microsecond=0, tzinfo=None),),
        grace=AWAY_GRACE,
    )


def _id(conn: Connection, sql: str, params: tuple[object, ...]) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])
