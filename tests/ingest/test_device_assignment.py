"""One patient per device at any instant, held by migration 0003's trigger.

The rule must hold on every PostgreSQL (no btree_gist needed) and against concurrent
writers at every isolation level; it reports SQLSTATE 23P01 with the constraint name
``device_assignments_one_patient``, as an EXCLUDE constraint would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import IsolationLevel
from psycopg.types.range import Range

from tests.ingest.gateway_double import TIMEOUT, wait_until
from tests.ingest.seed import add_device, add_organization, add_patient, assign

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 3, 1, tzinfo=UTC)
T2 = datetime(2026, 6, 1, tzinfo=UTC)
CONSTRAINT = "device_assignments_one_patient"
# What the second of two overlapping writers gets: under READ COMMITTED it waits for the
# first, then sees its period; with a transaction snapshot it cannot, and is told to retry.
SECOND_WRITER_FAILS_WITH = {
    IsolationLevel.READ_COMMITTED: psycopg.errors.ExclusionViolation,
    IsolationLevel.REPEATABLE_READ: psycopg.errors.SerializationFailure,
    IsolationLevel.SERIALIZABLE: psycopg.errors.SerializationFailure,
}
ISOLATION_LEVELS = [
    pytest.param(level, id=level.name.lower()) for level in SECOND_WRITER_FAILS_WITH
]


@pytest.fixture
def world(db) -> tuple[int, int]:
    """Two patients and the device ``cuff-1``, committed for other sessions to see."""
    org = add_organization(db)
    first, second = add_patient(db, org), add_patient(db, org)
    add_device(db, org, "cuff-1")
    add_device(db, org, "oximeter-1")
    db.commit()
    return first, second


@pytest.fixture
def observer(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def _periods(db, device_id: str = "cuff-1") -> list[tuple[int, Range[datetime]]]:
    rows: list[tuple[int, Range[datetime]]] = db.execute(
        "SELECT patient_id, period FROM device_assignments WHERE device_id = %s ORDER BY period",
        (device_id,),
    ).fetchall()
    return rows


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(T1 - timedelta(days=1), T2, id="overlapping-the-end"),
        pytest.param(T0 - timedelta(days=1), T0 + timedelta(seconds=1), id="overlapping-the-start"),
        pytest.param(T0 + timedelta(days=1), T1 - timedelta(days=1), id="inside"),
        pytest.param(T0 - timedelta(days=1), None, id="open-ended-around"),
        pytest.param(T0, T1, id="the-same"),
    ],
)
def test_an_overlapping_period_of_the_same_device_is_refused(db, world, start, end):
    first, second = world
    assign(db, "cuff-1", first, T0, T1)
    with pytest.raises(psycopg.errors.ExclusionViolation) as refused:
        assign(db, "cuff-1", second, start, end)
    assert refused.value.diag.constraint_name == CONSTRAINT
    assert refused.value.diag.table_name == "device_assignments"
    assert "device cuff-1 is assigned already during" in str(refused.value)
    db.rollback()
    assert _periods(db) == []


def test_adjacent_half_open_periods_and_other_devices_are_allowed(db, world):
    first, second = world
    assign(db, "cuff-1", first, T0, T1)
    assign(db, "cuff-1", second, T1, T2)
    assign(db, "cuff-1", first, T2)
    assign(db, "oximeter-1", second, T0)
    db.commit()
    assert _periods(db) == [
        (first, Range(T0, T1, "[)")),
        (second, Range(T1, T2, "[)")),
        (first, Range(T2, None, "[)")),
    ]


def test_an_update_that_makes_periods_overlap_is_refused(db, world):
    first, second = world
    assign(db, "cuff-1", first, T0, T1)
    assign(db, "cuff-1", second, T1)
    # Ending a period is an update of its own row, never an overlap with itself.
    db.execute(
        "UPDATE device_assignments SET period = tstzrange(lower(period), %s, '[)') "
        "WHERE patient_id = %s",
        (T2, second),
    )
    with pytest.raises(psycopg.errors.ExclusionViolation, match="assigned already"):
        db.execute(
            "UPDATE device_assignments SET period = tstzrange(%s, %s, '[)') WHERE patient_id = %s",
            (T0, T2, first),
        )
    db.rollback()


def test_moving_a_period_to_a_busy_device_is_refused(db, world):
    first, second = world
    assign(db, "cuff-1", first, T0)
    assign(db, "oximeter-1", second, T1)
    with pytest.raises(psycopg.errors.ExclusionViolation):
        db.execute(
            "UPDATE device_assignments SET device_id = 'cuff-1' WHERE patient_id = %s", (second,)
        )
    db.rollback()


def _session(url: str, isolation: IsolationLevel) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(url)
    conn.isolation_level = isolation
    return conn


def _waits_for_a_lock(observer, pid: int) -> bool:
    row = observer.execute(
        "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
    ).fetchone()
    return row is not None and row[0] > 0


@pytest.mark.parametrize("isolation", ISOLATION_LEVELS)
def test_a_second_writer_waiting_on_the_first_cannot_commit_an_overlap(
    db, database_url, world, observer, isolation
):
    first_patient, second_patient = world
    outcome: list[BaseException | None] = []
    with (
        _session(database_url, isolation) as first,
        _session(database_url, isolation) as second,
    ):

        def write_second() -> None:
            try:
                assign(second, "cuff-1", second_patient, T1)
                second.commit()
                outcome.append(None)
            except psycopg.Error as exc:
                second.rollback()
                outcome.append(exc)

        assign(first, "cuff-1", first_patient, T0)
        writer = threading.Thread(target=write_second)
        writer.start()
        try:
            pid = second.info.backend_pid
            wait_until(lambda: _waits_for_a_lock(observer, pid), what="the second writer waits")
            first.commit()
        finally:
            writer.join(TIMEOUT)
        assert not writer.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], SECOND_WRITER_FAILS_WITH[isolation])
    assert _periods(db) == [(first_patient, Range(T0, None, "[)"))]


@pytest.mark.parametrize("isolation", ISOLATION_LEVELS)
def test_a_writer_whose_snapshot_predates_the_first_commit_cannot_commit_an_overlap(
    db, database_url, world, isolation
):
    first_patient, second_patient = world
    with (
        _session(database_url, isolation) as first,
        _session(database_url, isolation) as second,
    ):
        # The second transaction looks first: it saw no assignment of cuff-1.
        assert _periods(second) == []
        assign(first, "cuff-1", first_patient, T0)
        first.commit()
        with pytest.raises(SECOND_WRITER_FAILS_WITH[isolation]):
            assign(second, "cuff-1", second_patient, T1)
        second.rollback()
    assert _periods(db) == [(first_patient, Range(T0, None, "[)"))]
