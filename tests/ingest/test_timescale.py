"""The TimescaleDB variant of the schema (run only when TELECARE_TEST_TIMESCALE is set).

The server behind that URL must preload timescaledb and let its role create databases
and the extension; each test migrates a fresh database of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from devices.reading import KIND_CODES, Kind, Reading
from ingest.migrate import MigrationSettings, TimescaleMode, migrate
from ingest.store import Arrival, StoreResult, store_batch
from tests.ingest.seed import add_device, add_organization, add_patient, assign

pytestmark = pytest.mark.timescale

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def jobs(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The background jobs (policies) of readings and its aggregate, by procedure name."""
    found = conn.execute(
        """SELECT proc_name, config FROM timescaledb_information.jobs
           WHERE hypertable_name IN ('readings', (
               SELECT materialization_hypertable_name
               FROM timescaledb_information.continuous_aggregates
               WHERE view_name = 'readings_15m'))"""
    ).fetchall()
    return dict(found)


def test_readings_become_a_hypertable_with_1_day_chunks(timescale_database_url):
    migrate(timescale_database_url, settings=MigrationSettings(timescaledb=TimescaleMode.REQUIRE))
    with psycopg.connect(timescale_database_url) as conn:
        assert conn.execute(
            """SELECT time_interval FROM timescaledb_information.dimensions
               WHERE hypertable_name = 'readings' AND column_name = 'measured_at'"""
        ).fetchone() == (timedelta(days=1),)
        segmentby = conn.execute(
            """SELECT attname FROM timescaledb_information.compression_settings
               WHERE hypertable_name = 'readings' AND segmentby_column_index IS NOT NULL
               ORDER BY segmentby_column_index"""
        ).fetchall()
        assert segmentby == [("device_id",), ("kind",)]
        policies = jobs(conn)
    assert policies["policy_compression"]["compress_after"] == "7 days"
    assert "policy_retention" not in policies
    assert "policy_refresh_continuous_aggregate" in policies


def test_compression_age_and_retention_are_settings(timescale_database_url):
    settings = MigrationSettings(
        timescaledb=TimescaleMode.REQUIRE,
        compress_after=timedelta(days=2),
        drop_after=timedelta(days=365),
    )
    migrate(timescale_database_url, settings=settings)
    with psycopg.connect(timescale_database_url) as conn:
        policies = jobs(conn)
    assert policies["policy_compression"]["compress_after"] == "2 days"
    assert policies["policy_retention"]["drop_after"] == "365 days"


def test_no_compression_when_switched_off(timescale_database_url):
    settings = MigrationSettings(timescaledb=TimescaleMode.REQUIRE, compress_after=None)
    migrate(timescale_database_url, settings=settings)
    with psycopg.connect(timescale_database_url) as conn:
        assert "policy_compression" not in jobs(conn)


def test_storing_and_the_15_minute_aggregate_work_on_the_hypertable(timescale_database_url):
    migrate(timescale_database_url, settings=MigrationSettings(timescaledb=TimescaleMode.REQUIRE))
    with psycopg.connect(timescale_database_url) as conn:
        org = add_organization(conn)
        patient = add_patient(conn, org)
        add_device(conn, org, "oximeter-1")
        assign(conn, "oximeter-1", patient, T0)
        conn.commit()
        readings = tuple(
            Reading(
                device_id="oximeter-1",
                kind=Kind.SPO2,
                value=float(90 + i % 10),
                unit=KIND_CODES[Kind.SPO2].unit,
                measured_at=T0 + timedelta(minutes=i),
            )
            for i in range(60)
        )
        batch = Arrival(gateway_id="gw-1", batch_id=uuid.uuid4(), received_at=T0, readings=readings)
        result = store_batch(conn, [batch])
        assert (result.inserted, result.patients[("oximeter-1", Kind.SPO2, T0)]) == (60, patient)
        assert store_batch(conn, [batch]) == StoreResult(
            inserted=0, duplicates=60, conflicts=0, quarantined=0, patients={}
        )
        conn.commit()
        buckets = conn.execute(
            """SELECT bucket, min_value, max_value, reading_count FROM readings_15m
               WHERE patient_id = %s AND kind = 'spo2' ORDER BY bucket""",
            (patient,),
        ).fetchall()
    assert len(buckets) == 4
    assert buckets[0] == (T0, 90.0, 99.0, 15)
