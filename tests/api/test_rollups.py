"""Plain PostgreSQL's chart rollups (migration 0011) agree with the raw readings."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.seed import add_organization, add_patient

T0 = datetime(2026, 11, 1, tzinfo=UTC)
INSERT = """
INSERT INTO readings (measured_at, device_id, kind, value, absent_reason, unit, patient_id,
                      gateway_id, received_at, batch_id)
VALUES (%s, %s, 'spo2', %s, %s, '%%', %s, 'gw', now(), %s)
ON CONFLICT DO NOTHING
"""
RAW = """
SELECT date_bin(interval '15 minutes', measured_at, timestamptz '2000-01-01 00:00+00'),
       min(value), max(value), sum(value), count(value)
FROM readings WHERE patient_id = %s AND value IS NOT NULL GROUP BY 1 ORDER BY 1
"""
ROLLUP = """
SELECT bucket, min_value, max_value, sum_value, reading_count
FROM reading_rollups_15m WHERE patient_id = %s ORDER BY bucket
"""


def _patient(conn) -> int:
    patient = add_patient(conn, add_organization(conn, name=f"org-{uuid.uuid4().hex[:6]}"))
    conn.commit()
    return patient


def test_rollups_follow_inserts_replays_and_absent_values(db):
    patient = _patient(db)
    batch = uuid.uuid4()
    rows: list[tuple[object, ...]] = [
        (T0 + timedelta(minutes=m), "ox", 90.0 + m % 7, None, patient, batch) for m in range(60)
    ]
    rows.append((T0 + timedelta(minutes=61), "ox", None, "not_a_number", patient, batch))
    rows.append((T0, "unassigned", 50.0, None, None, batch))
    with db.cursor() as cur:
        cur.executemany(INSERT, rows)
        cur.executemany(INSERT, rows[:30])  # a replay: nothing new
    db.commit()
    assert db.execute(ROLLUP, (patient,)).fetchall() == db.execute(RAW, (patient,)).fetchall()
    assert [r[4] for r in db.execute(ROLLUP, (patient,)).fetchall()] == [15, 15, 15, 15]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    minutes=st.lists(st.integers(0, 24 * 60), min_size=1, max_size=40, unique=True),
    values=st.lists(st.floats(50, 100, allow_nan=False), min_size=40, max_size=40),
)
def test_rollups_equal_raw_aggregates_whatever_the_batches(db, minutes, values):
    patient = _patient(db)
    for index, minute in enumerate(minutes):
        db.execute(
            INSERT,
            (T0 + timedelta(minutes=minute), "ox", values[index], None, patient, uuid.uuid4()),
        )
        if index % 3 == 0:
            db.commit()
    db.commit()
    rollup = db.execute(ROLLUP, (patient,)).fetchall()
    raw = db.execute(RAW, (patient,)).fetchall()
    assert [(r[0], r[1], r[2], r[4]) for r in rollup] == [(r[0], r[1], r[2], r[4]) for r in raw]
    assert all(abs(a[3] - b[3]) < 1e-6 for a, b in zip(rollup, raw, strict=True))


def test_concurrent_inserts_into_the_same_buckets(database_url, db):
    patient = _patient(db)
    errors: list[BaseException] = []

    def insert(device: str) -> None:
        try:
            with psycopg.connect(database_url) as conn:
                for round_ in range(20):
                    with conn.cursor() as cur:
                        cur.executemany(
                            INSERT,
                            [
                                (T0 + timedelta(seconds=s, minutes=round_), device, 95.0, None,
                                 patient, uuid.uuid4())
                                for s in range(30)
                            ],
                        )  # fmt: skip
                    conn.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(f"ox-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.execute(ROLLUP, (patient,)).fetchall() == db.execute(RAW, (patient,)).fetchall()
