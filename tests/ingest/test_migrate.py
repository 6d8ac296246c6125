"""The migration runner and the schema it builds, on plain PostgreSQL."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from devices.reading import AbsentReason, Flag, Kind, Unit
from gateway.contract import DEVICE_ID, GATEWAY_ID, GatewayFlag
from ingest.errors import MigrationError
from ingest.migrate import (
    Migration,
    MigrationSettings,
    TimescaleMode,
    load_migrations,
    migrate,
)

MIGRATIONS = load_migrations()
LATEST = MIGRATIONS[-1].version

TABLES = {
    "organizations",
    "users",
    "care_teams",
    "care_team_members",
    "patients",
    "patient_identity",
    "care_team_patients",
    "gateways",
    "devices",
    "device_assignments",
    "readings",
    "reading_conflicts",
    "quarantined_readings",
    "dead_letters",
    "thresholds",
    "threshold_history",
    "alerts",
    "audit_log",
    "schema_migrations",
    # 0009_alerting.sql
    "monitoring_plans",
    "measurement_schedules",
    "passive_periods",
    "alert_events",
    "webhooks",
    "webhook_deliveries",
    "oximetry_nights",
    # 0010_api_sessions.sql
    "refresh_tokens",
    "gateway_configs",
    # 0011_reading_rollups.sql (plain PostgreSQL only)
    "reading_rollups_15m",
    # 0012_gateway_status.sql
    "device_sightings",
    # 0013_patient_reviews.sql
    "patient_reviews",
}

# The SQL function holding each StrEnum's strings, and the columns checked against it.
STRING_SETS = {
    "reading_kinds": (Kind, {"kind"}),
    "reading_units": (Unit, {"unit", "original_unit"}),
    "absent_reasons": (AbsentReason, {"absent_reason", "kept_absent_reason"}),
    "reading_flags": (Flag, {"flags"}),
    "gateway_flags": (GatewayFlag, {"status_flags"}),
}
# Columns whose names match but which hold something else: an organization's kind is
# region, municipality or practice.
NOT_ENUM_COLUMNS = {("organizations", "kind")}


def test_packaged_migrations_are_numbered_from_one_without_gaps():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert all(re.fullmatch(r"[a-z0-9_]+", m.name) for m in MIGRATIONS)


def test_migrations_apply_to_an_empty_database(empty_database_url):
    applied = migrate(empty_database_url)

    assert applied == list(MIGRATIONS)
    with psycopg.connect(empty_database_url) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        recorded = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert tables == TABLES
    assert recorded == [(m.version, m.name, m.checksum) for m in MIGRATIONS]


def test_a_second_run_applies_nothing(empty_database_url):
    migrate(empty_database_url)
    assert migrate(empty_database_url) == []


def test_a_changed_applied_migration_is_refused(empty_database_url):
    migrate(empty_database_url)
    edited = tuple(
        replace(m, sql=m.sql + "\n-- edited\n") if m.version == 4 else m for m in MIGRATIONS
    )
    new = Migration(version=LATEST + 1, name="new_table", sql="CREATE TABLE later (x int);")

    with pytest.raises(MigrationError, match=r"0004_readings\.sql changed after it was applied"):
        migrate(empty_database_url, migrations=(*edited, new))

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('later')").fetchone() == (None,)


def test_a_database_migrated_by_newer_code_is_refused(empty_database_url):
    migrate(empty_database_url)
    with pytest.raises(MigrationError, match=rf"{LATEST:04d} applied, which this code lacks"):
        migrate(empty_database_url, migrations=MIGRATIONS[:-1])


def test_a_failing_migration_rolls_back_alone(empty_database_url):
    broken = Migration(
        version=LATEST + 1,
        name="broken",
        sql="CREATE TABLE half_done (x int); SELECT no_such_function();",
    )
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(empty_database_url, migrations=(*MIGRATIONS, broken))

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (LATEST,)
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)


def test_settings_reach_the_sql_of_the_migration_being_applied(empty_database_url):
    probe = Migration(
        version=LATEST + 1,
        name="probe",
        sql="""CREATE TABLE seen AS SELECT
            current_setting('telecare.timescaledb') AS timescaledb,
            current_setting('telecare.compress_after')::interval AS compress_after,
            current_setting('telecare.drop_after') AS drop_after""",
    )
    settings = MigrationSettings(
        timescaledb=TimescaleMode.OFF,
        compress_after=timedelta(days=3, hours=12),
        drop_after=None,
    )
    migrate(empty_database_url, settings=settings, migrations=(*MIGRATIONS, probe))

    with psycopg.connect(empty_database_url) as conn:
        seen = conn.execute(
            "SELECT timescaledb, compress_after::text, drop_after FROM seen"
        ).fetchone()
    assert seen == ("off", "3 days 12:00:00", "off")


def test_settings_are_local_to_the_migration_transaction(empty_database_url):
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrate(conn)
        leftover = conn.execute("SELECT current_setting('telecare.drop_after', true)").fetchone()
    assert leftover in {(None,), ("",)}


def test_migration_settings_refuse_non_positive_ages():
    with pytest.raises(ValueError, match="compress_after must be positive"):
        MigrationSettings(compress_after=timedelta(0))
    assert MigrationSettings().custom_settings() == {
        "telecare.timescaledb": "auto",
        "telecare.compress_after": "7 days 0 seconds 0 microseconds",
        "telecare.drop_after": "off",
    }


def test_plain_postgresql_keeps_readings_a_plain_table(empty_database_url):
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'readings'"
        ).fetchone() == ("r",)
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (0,)


def test_requiring_timescaledb_fails_where_the_server_lacks_it(empty_database_url):
    settings = MigrationSettings(timescaledb=TimescaleMode.REQUIRE)
    with pytest.raises(psycopg.errors.RaiseException, match="TimescaleDB is required"):
        migrate(empty_database_url, settings=settings)

    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (6,)


def test_migrate_takes_a_connection_and_gives_it_back_as_it_was(empty_database_url):
    with psycopg.connect(empty_database_url) as conn:
        assert len(migrate(conn)) == len(MIGRATIONS)
        assert conn.autocommit is False
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (LATEST,)


def test_concurrent_runs_apply_each_migration_once(empty_database_url):
    results: list[list[Migration]] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(migrate(empty_database_url))
        except BaseException as exc:  # reported below, on the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(len(applied) for applied in results) == [0, 0, len(MIGRATIONS)]


@pytest.mark.parametrize("function", sorted(STRING_SETS))
def test_the_schema_string_sets_match_the_enums(db, function):
    enum, _ = STRING_SETS[function]
    (values,) = db.execute(f"SELECT {function}()").fetchone()
    assert values == [member.value for member in enum]


@pytest.mark.parametrize("function", sorted(STRING_SETS))
def test_every_column_holding_enum_strings_is_checked_against_its_set(db, function):
    _, columns = STRING_SETS[function]
    rows = db.execute(
        """
        SELECT c.table_name, c.column_name,
               bool_or(pg_get_constraintdef(k.oid) LIKE '%%' || %s || '()%%')
        FROM information_schema.columns AS c
        JOIN information_schema.tables AS t USING (table_schema, table_name)
        JOIN pg_attribute AS a ON a.attrelid = c.table_name::regclass
             AND a.attname = c.column_name
        LEFT JOIN pg_constraint AS k ON k.conrelid = a.attrelid AND k.contype = 'c'
             AND a.attnum = ANY (k.conkey)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
              AND c.column_name = ANY (%s)
        GROUP BY c.table_name, c.column_name
        """,
        (function, list(columns)),
    ).fetchall()
    assert rows, f"no column holds {function}"
    unchecked = {(table, column) for table, column, checked in rows if not checked}
    assert unchecked - NOT_ENUM_COLUMNS == set()


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        pytest.param("gateways", GATEWAY_ID, id="gateway"),
        pytest.param("devices", DEVICE_ID, id="device"),
    ],
)
def test_id_checks_match_the_mqtt_contract(db, table, pattern):
    (definition,) = db.execute(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = %s::regclass AND contype = 'c' AND conname = %s""",
        (table, f"{table}_id_check"),
    ).fetchone()
    assert f"'^{pattern.pattern}$'" in definition
