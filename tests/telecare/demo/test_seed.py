"""The demo's seed: the plan's world in a migrated database, written once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest

from api.password import verify_password
from ingest.db import connect
from ingest.program import Program
from telecare.demo.credentials import Credentials
from telecare.demo.plan import (
    AWAY_GRACE,
    ENROLLED_BEFORE,
    GATEWAYS,
    HISTORY,
    USERS,
    household_count,
)
from telecare.demo.seed import seed, started_at, usernames
from tests.fixtures.postgres import unique_name

NOW = datetime(2026, 11, 29, 9, 0, 30, tzinfo=UTC)
CREDENTIALS = Credentials(
    passwords={name: f"password-of-{name}" for name in usernames()},
    api_secret="s" * 48,
)


def _rows(conn, sql, *params):
    return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def seeded(postgres_server, migrated_template) -> Iterator[str]:
    """One database seeded for the module (Argon2 hashing makes a seed take seconds)."""
    name = unique_name("telecare_demo_seed")
    url = postgres_server.create_database(name, template=migrated_template)
    try:
        with connect(url) as conn:
            assert seed(conn, CREDENTIALS, now=NOW) is True
        yield url
    finally:
        postgres_server.drop_database(name)


def test_seed_writes_the_plan_once(seeded):
    with connect(seeded) as conn:
        assert seed(conn, CREDENTIALS, now=NOW) is False
        assert _rows(conn, "SELECT kind, name FROM organizations ORDER BY kind") == [
            ("municipality", "Aarhus Kommune (demo)"),
            ("region", "Region Midtjylland (demo)"),
        ]
        assert _rows(conn, "SELECT count(*) FROM patients") == [(household_count(),)]
        assert _rows(conn, "SELECT count(*), count(DISTINCT device_id) FROM device_assignments")[
            0
        ] == (2 * household_count(), 2 * household_count())
        assert _rows(conn, "SELECT id FROM gateways ORDER BY id") == sorted(
            (gateway.gateway_id,) for gateway in GATEWAYS
        )


def test_every_role_signs_in_with_its_printed_password(seeded):
    with connect(seeded) as conn:
        rows = _rows(conn, "SELECT username, role, password_hash FROM users ORDER BY id")
    assert {role for _, role, _ in rows} == {
        "clinician",
        "nurse",
        "fleet_manager",
        "organization_admin",
        "auditor",
        "patient",
    }
    assert [name for name, _, _ in rows] == list(usernames())
    for name, _, password_hash in rows:
        assert verify_password(password_hash, CREDENTIALS.passwords[name])


def test_care_teams_cross_the_two_organizations(seeded):
    with connect(seeded) as conn:
        crossing = _rows(
            conn,
            """SELECT u.username, t.name FROM care_team_members m
            JOIN users u ON u.id = m.user_id JOIN care_teams t ON t.id = m.care_team_id
            WHERE u.organization_id <> t.organization_id ORDER BY 1""",
        )
    assert crossing == [
        ("clinician", "Home nursing, lung patients"),
        ("nurse", "Heart clinic, home monitoring"),
    ]
    assert {user.username for user in USERS if len(user.teams) == 2} == {"clinician", "nurse"}


def test_patients_are_enrolled_in_their_gateways_programs(seeded):
    with connect(seeded) as conn:
        programs = _rows(
            conn, "SELECT program, count(*) FROM monitoring_plans GROUP BY 1 ORDER BY 1"
        )
        away = _rows(
            conn,
            """SELECT times_of_day, grace FROM measurement_schedules
            WHERE kind = 'systolic' AND grace < INTERVAL '1 hour'""",
        )
    expected: Counter[str] = Counter()
    for gateway in GATEWAYS:
        expected[gateway.program.value] += len(gateway.households)
    assert programs == sorted(expected.items())
    assert len({gateway.program for gateway in GATEWAYS}) == len(Program)
    # The away household: blood pressure due a minute or two after seeding (Copenhagen
    # time, UTC+1 in November), so it is missed within the demo's first minutes.
    away_households = sum(len(g.households) for g in GATEWAYS if not g.runs)
    assert len(away) == away_households
    assert {(tuple(times), grace) for times, grace in away} == {((time(10, 2),), AWAY_GRACE)}


def test_patients_were_enrolled_before_their_history_and_are_watched_from_the_seeding(seeded):
    with connect(seeded) as conn:
        enrolled = _rows(conn, "SELECT DISTINCT enrolled_at FROM monitoring_plans")
        thresholds = _rows(conn, "SELECT DISTINCT valid_from FROM threshold_history")
        delivered = _rows(conn, "SELECT DISTINCT lower(period) FROM device_assignments")
        watched = _rows(conn, "SELECT DISTINCT active_from FROM measurement_schedules")
        assert started_at(conn) == NOW
    # The devices' two weeks of history falls inside the assignment and the thresholds.
    assert enrolled == thresholds == delivered == [(NOW - ENROLLED_BEFORE,)]
    assert ENROLLED_BEFORE > HISTORY
    # No blue alert for a slot before the seeding: the history arrives with the gateways.
    assert watched == [(NOW,)]
