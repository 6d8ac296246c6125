"""Storing readings on a real PostgreSQL: idempotent, conflict-aware, attributed by period."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.reading import KIND_CODES, AbsentReason, Flag, Kind, Reading, Unit
from ingest.plausibility import Quarantined, QuarantineReason
from ingest.store import (
    DEAD_LETTER_MAX_BYTES,
    Arrival,
    StoreResult,
    insert_dead_letter,
    store_batch,
)
from tests.ingest.seed import add_device, add_organization, add_patient, assign

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 29, 7, 22, tzinfo=UTC)


def reading(
    kind: Kind = Kind.SPO2,
    value: float | None = 97.0,
    *,
    at: datetime = T0,
    device: str = "oximeter-1",
    **fields: Any,
) -> Reading:
    if value is None and "absent_reason" not in fields:
        fields["absent_reason"] = AbsentReason.NOT_A_NUMBER
    return Reading(
        device_id=device,
        kind=kind,
        value=value,
        unit=KIND_CODES[kind].unit,
        measured_at=at,
        **fields,
    )


def arrival(
    *readings: Reading,
    batch_id: uuid.UUID | None = None,
    gateway: str = "gw-1",
    quarantined: Sequence[Quarantined] = (),
) -> Arrival:
    return Arrival(
        gateway_id=gateway,
        batch_id=batch_id or uuid.uuid4(),
        received_at=RECEIVED,
        readings=tuple(readings),
        quarantined=tuple(quarantined),
    )


def series(count: int, *, device: str = "oximeter-1", start: datetime = T0) -> tuple[Reading, ...]:
    return tuple(
        reading(value=90.0 + i % 10, at=start + timedelta(seconds=i), device=device)
        for i in range(count)
    )


def stored(
    conn: psycopg.Connection[Any],
    columns: str = "device_id, kind, measured_at, value, absent_reason, patient_id",
) -> list[Any]:
    return conn.execute(f"SELECT {columns} FROM readings ORDER BY measured_at, kind").fetchall()


def staging_table_exists(conn: psycopg.Connection[Any]) -> bool:
    found = conn.execute("SELECT to_regclass('pg_temp.reading_staging') IS NOT NULL").fetchone()
    return found == (True,)


def counts(
    inserted: int = 0,
    duplicates: int = 0,
    conflicts: int = 0,
    quarantined: int = 0,
    patients: dict[Any, int] | None = None,
) -> StoreResult:
    return StoreResult(
        inserted=inserted,
        duplicates=duplicates,
        conflicts=conflicts,
        quarantined=quarantined,
        patients=patients or {},
    )


def test_every_new_reading_is_stored(db):
    batch = arrival(*series(500))
    assert store_batch(db, [batch]) == counts(inserted=500)
    assert db.execute("SELECT count(*), count(DISTINCT batch_id) FROM readings").fetchone() == (
        500,
        1,
    )


def test_a_replayed_batch_stores_nothing_new(db):
    batch = arrival(*series(200))
    store_batch(db, [batch])
    before = stored(db)

    assert store_batch(db, [batch]) == counts(duplicates=200)
    assert store_batch(db, [arrival(*series(200))]) == counts(duplicates=200)  # resent, new id
    assert stored(db) == before


@pytest.mark.parametrize(
    "times",
    [
        pytest.param(1, id="copied-into-readings"),
        # The batch repeated within one call: the repeat takes the staging path.
        pytest.param(2, id="through-staging"),
    ],
)
def test_a_reading_round_trips_field_by_field(db, times):
    original = Reading(
        device_id="AA:BB:CC:DD:EE:FF",
        kind=Kind.SYSTOLIC,
        value=120.8,
        unit=Unit.MMHG,
        measured_at=T0,
        device_time=datetime(2026, 11, 1, 9, 0),  # the device's wall clock: naive
        flags=frozenset({Flag.IRREGULAR_PULSE, Flag.BODY_MOVEMENT}),
        original_value=16.1,
        original_unit=Unit.KPA,
        user_id=2,
        continuous=False,
    )
    absent = reading(Kind.PULSE_RATE, None, device="AA:BB:CC:DD:EE:FF", continuous=True)
    batch = arrival(original, absent)
    assert store_batch(db, [batch] * times) == counts(inserted=2, duplicates=2 * (times - 1))
    assert staging_table_exists(db) == (times > 1)

    rows = db.execute(
        """SELECT device_id, kind, value, unit, measured_at, device_time, flags, absent_reason,
                  original_value, original_unit, device_user_id, continuous,
                  gateway_id, received_at, batch_id, patient_id
           FROM readings ORDER BY kind DESC"""
    ).fetchall()
    rebuilt = [
        Reading(
            device_id=row[0],
            kind=Kind(row[1]),
            value=row[2],
            unit=Unit(row[3]),
            measured_at=row[4],
            device_time=row[5],
            flags=frozenset(Flag(f) for f in row[6]),
            absent_reason=None if row[7] is None else AbsentReason(row[7]),
            original_value=row[8],
            original_unit=None if row[9] is None else Unit(row[9]),
            user_id=row[10],
            continuous=row[11],
        )
        for row in rows
    ]
    assert rebuilt == [original, absent]
    assert {row[12:] for row in rows} == {("gw-1", RECEIVED, batch.batch_id, None)}
    assert rows[0][6] == ["body_movement", "irregular_pulse"]  # sorted on the way in


def test_the_same_key_with_another_value_is_a_conflict_and_the_first_is_kept(db):
    first = arrival(reading(value=97.0), reading(Kind.PULSE_RATE, 61.0))
    second = arrival(reading(value=93.0), reading(Kind.PULSE_RATE, 61.0))
    store_batch(db, [first])

    assert store_batch(db, [second]) == counts(duplicates=1, conflicts=1)
    assert store_batch(db, [second]) == counts(duplicates=1, conflicts=1)  # replayed
    assert stored(db, "kind, value, batch_id") == [
        ("pulse_rate", 61.0, first.batch_id),
        ("spo2", 97.0, first.batch_id),
    ]
    assert db.execute(
        """SELECT device_id, kind, measured_at, kept_value, kept_batch_id, value, batch_id,
                  gateway_id FROM reading_conflicts"""
    ).fetchall() == [
        ("oximeter-1", "spo2", T0, 97.0, first.batch_id, 93.0, second.batch_id, "gw-1")
    ]


def test_an_absent_value_against_a_number_is_a_conflict(db):
    store_batch(db, [arrival(reading(value=97.0))])
    result = store_batch(
        db, [arrival(reading(value=None, absent_reason=AbsentReason.DEVICE_INVALID))]
    )
    assert result == counts(conflicts=1)
    assert db.execute(
        "SELECT kept_value, kept_absent_reason, value, absent_reason FROM reading_conflicts"
    ).fetchall() == [(97.0, None, None, "device_invalid")]


def test_flags_alone_do_not_make_a_conflict(db):
    # A record re-read from the device's storage carries the from-storage flag: same reading.
    store_batch(db, [arrival(reading())])
    again = arrival(reading(flags=frozenset({Flag.FROM_STORAGE})))
    assert store_batch(db, [again]) == counts(duplicates=1)


def test_within_one_call_the_first_arrival_wins(db):
    first, second = arrival(reading(value=95.0)), arrival(reading(value=96.0))
    assert store_batch(db, [first, second]) == counts(inserted=1, conflicts=1)
    assert stored(db, "value, batch_id") == [(95.0, first.batch_id)]


def test_readings_go_to_the_patient_whose_assignment_period_holds_them(db):
    org = add_organization(db)
    first, second = add_patient(db, org), add_patient(db, org)
    add_device(db, org, "oximeter-1")
    handed_out, collected, reissued = T0, T0 + timedelta(days=30), T0 + timedelta(days=45)
    assign(db, "oximeter-1", first, handed_out, collected)
    assign(db, "oximeter-1", second, reissued)
    db.commit()
    at = {
        "before-any-assignment": handed_out - timedelta(seconds=1),
        "first-start": handed_out,
        "first-last-second": collected - timedelta(seconds=1),
        "in-storage": collected,
        "before-reissue": reissued - timedelta(microseconds=1),
        "second-start": reissued,
        "second-later": reissued + timedelta(days=10),
    }
    readings = [reading(at=when) for when in at.values()]
    unregistered = reading(device="stranger-1")

    result = store_batch(db, [arrival(*readings, unregistered)])

    owner = {
        "before-any-assignment": None,
        "first-start": first,
        "first-last-second": first,
        "in-storage": None,
        "before-reissue": None,
        "second-start": second,
        "second-later": second,
    }
    rows = dict(
        db.execute(
            "SELECT measured_at, patient_id FROM readings WHERE device_id = 'oximeter-1'"
        ).fetchall()
    )
    assert {name: rows[when] for name, when in at.items()} == owner
    assert db.execute(
        "SELECT patient_id FROM readings WHERE device_id = 'stranger-1'"
    ).fetchone() == (None,)
    assert result.patients == {
        ("oximeter-1", Kind.SPO2, at[name]): patient
        for name, patient in owner.items()
        if patient is not None
    }


def test_a_late_reading_of_a_reused_device_never_reaches_the_new_patient(db):
    # The device's outbox delivers a reading from the first period after reassignment.
    org = add_organization(db)
    first, second = add_patient(db, org), add_patient(db, org)
    add_device(db, org, "cuff-1")
    assign(db, "cuff-1", first, T0, T0 + timedelta(days=1))
    assign(db, "cuff-1", second, T0 + timedelta(days=1))
    db.commit()
    late = reading(Kind.SYSTOLIC, 131.0, device="cuff-1", at=T0 + timedelta(hours=20))
    store_batch(db, [arrival(late)])
    assert stored(db, "patient_id") == [(first,)]


def test_new_readings_go_straight_into_readings_attributed(db):
    org = add_organization(db)
    patient = add_patient(db, org)
    add_device(db, org, "oximeter-1")
    assign(db, "oximeter-1", patient, T0 - timedelta(days=1))
    db.commit()
    assigned, stranger = series(60), series(3, device="stranger-1")

    result = store_batch(db, [arrival(*assigned), arrival(*stranger)])

    assert result == counts(
        inserted=63, patients={(r.device_id, r.kind, r.measured_at): patient for r in assigned}
    )
    assert not staging_table_exists(db)  # the COPY path; no staging, no per-row join
    patients = db.execute("SELECT device_id, patient_id, count(*) FROM readings GROUP BY 1, 2")
    assert sorted(patients.fetchall()) == [("oximeter-1", patient, 60), ("stranger-1", None, 3)]
    # The chart rollup (migration 0011) follows a COPY as it follows an INSERT.
    rollup = db.execute(
        "SELECT sum(reading_count) FROM reading_rollups_15m WHERE patient_id = %s", (patient,)
    )
    assert rollup.fetchone() == (60,)


def test_an_assignment_ending_within_a_call_attributes_each_reading(db):
    org = add_organization(db)
    patient = add_patient(db, org)
    add_device(db, org, "oximeter-1")
    assign(db, "oximeter-1", patient, T0 - timedelta(days=1), T0 + timedelta(seconds=30))
    db.commit()
    readings = series(60)

    result = store_batch(db, [arrival(*readings)])

    assert staging_table_exists(db)  # the span crosses the period's end: joined row by row
    assert result == counts(
        inserted=60,
        patients={(r.device_id, r.kind, r.measured_at): patient for r in readings[:30]},
    )


def test_a_stored_key_among_new_ones_takes_the_general_path(db):
    readings = series(20)
    store_batch(db, [arrival(*readings[5:15])])
    assert not staging_table_exists(db)
    assert store_batch(db, [arrival(*readings)]) == counts(inserted=10, duplicates=10)
    assert staging_table_exists(db)
    assert db.execute("SELECT count(*) FROM readings").fetchone() == (20,)


def test_the_general_path_keeps_what_the_call_wrote_before_it(db):
    # The failed COPY is undone to its savepoint: the quarantined rows of the same call,
    # and the caller's own writes in the same transaction, stay.
    readings = series(20)
    db.execute("SELECT 1")  # the caller's transaction
    assert store_batch(db, [arrival(*readings[:10])]) == counts(inserted=10)
    late = Quarantined(reading=reading(value=-3.0), reason=QuarantineReason.NEGATIVE_VALUE)
    changed = reading(value=50.0, at=readings[0].measured_at)
    result = store_batch(db, [arrival(changed, *readings, quarantined=[late])])
    assert result == counts(inserted=10, duplicates=10, conflicts=1, quarantined=1)
    db.commit()
    assert db.execute("SELECT count(*) FROM readings").fetchone() == (20,)
    assert db.execute("SELECT reason FROM quarantined_readings").fetchall() == [("negative_value",)]
    assert db.execute("SELECT kept_value, value FROM reading_conflicts").fetchall() == [
        (90.0, 50.0)
    ]


def test_quarantined_readings_are_kept_once_with_their_reason(db):
    implausible = reading(value=104.0)
    batch = arrival(
        reading(Kind.PULSE_RATE, 70.0),
        quarantined=[Quarantined(reading=implausible, reason=QuarantineReason.SPO2_ABOVE_100)],
    )
    assert store_batch(db, [batch]) == counts(inserted=1, quarantined=1)
    assert store_batch(db, [batch]) == counts(duplicates=1)
    assert db.execute(
        "SELECT reason, kind, value, gateway_id, batch_id FROM quarantined_readings"
    ).fetchall() == [("spo2_above_100", "spo2", 104.0, "gw-1", batch.batch_id)]
    assert stored(db, "kind") == [("pulse_rate",)]


def test_an_arrival_of_only_quarantined_readings(db):
    batch = arrival(
        quarantined=[
            Quarantined(reading=reading(value=-1.0), reason=QuarantineReason.NEGATIVE_VALUE)
        ]
    )
    assert store_batch(db, [batch]) == counts(quarantined=1)


def test_dead_letters_keep_the_bytes_and_count_repeats(db):
    for _ in range(3):
        insert_dead_letter(
            db,
            topic="telecare/v1/gw/gw-1/readings",
            payload=b"\x00garbage",
            error="payload is not JSON",
            received_at=RECEIVED,
            gateway_id="gw-1",
        )
    huge = b"x" * (DEAD_LETTER_MAX_BYTES + 10)
    insert_dead_letter(
        db,
        topic="telecare/v1/gw/gw-1/readings",
        payload=huge,
        error="too big",
        received_at=RECEIVED,
    )
    assert db.execute(
        "SELECT payload, payload_size, occurrences, gateway_id FROM dead_letters ORDER BY id"
    ).fetchall() == [
        (b"\x00garbage", 8, 3, "gw-1"),
        (huge[:DEAD_LETTER_MAX_BYTES], DEAD_LETTER_MAX_BYTES + 10, 1, None),
    ]


def test_inside_the_callers_transaction_nothing_commits_until_the_caller_does(db):
    db.execute("SELECT 1")  # the connection is now inside a transaction
    assert store_batch(db, [arrival(*series(10))]) == counts(inserted=10)
    assert store_batch(db, [arrival(*series(10, start=T0 + timedelta(hours=1)))]) == counts(
        inserted=10
    )  # the staging table was emptied in between
    db.rollback()
    assert db.execute("SELECT count(*) FROM readings").fetchone() == (0,)


def test_an_autocommit_connection_works_too(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert store_batch(conn, [arrival(*series(5))]) == counts(inserted=5)
        assert store_batch(conn, [arrival(*series(5))]) == counts(duplicates=5)


def test_nothing_to_store(db):
    assert store_batch(db, []) == counts()


def test_an_arrival_needs_a_uuid_and_an_aware_time():
    with pytest.raises(TypeError, match="batch_id must be a UUID"):
        Arrival(gateway_id="gw-1", batch_id=str(uuid.uuid4()), received_at=RECEIVED)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        Arrival(gateway_id="gw-1", batch_id=uuid.uuid4(), received_at=datetime(2026, 1, 1))


def test_an_arrival_of_a_contract_batch():
    from gateway.contract import ReadingsBatch, new_batch_id

    batch = ReadingsBatch(
        batch_id=new_batch_id(), gateway_id="gw-7", sent_at=RECEIVED, readings=series(3)
    )
    assert Arrival.of(batch, received_at=RECEIVED, readings=batch.readings[:2]) == Arrival(
        gateway_id="gw-7",
        batch_id=uuid.UUID(batch.batch_id),
        received_at=RECEIVED,
        readings=batch.readings[:2],
    )


KEYS = st.tuples(
    st.sampled_from(["oximeter-1", "oximeter-2"]),
    st.sampled_from([Kind.SPO2, Kind.PULSE_RATE]),
    st.integers(min_value=0, max_value=5).map(lambda s: T0 + timedelta(seconds=s)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keyed_values=st.lists(st.tuples(KEYS, st.sampled_from([95.0, 96.0, None])), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
)
def test_any_split_into_batches_keeps_the_first_value_of_each_key(db, keyed_values, cuts):
    db.execute("TRUNCATE readings, reading_conflicts")
    db.commit()
    readings = [
        reading(kind, value, device=device, at=at) for (device, kind, at), value in keyed_values
    ]
    bounds = [0, *sorted(c for c in cuts if c < len(readings)), len(readings)]
    arrivals = [arrival(*readings[a:b]) for a, b in itertools.pairwise(bounds)]

    results = [store_batch(db, [a]) for a in arrivals]

    first: dict[tuple[str, Kind, datetime], Reading] = {}
    for r in readings:
        first.setdefault((r.device_id, r.kind, r.measured_at), r)
    assert sum(r.inserted for r in results) == len(first)
    assert sum(r.inserted + r.duplicates + r.conflicts for r in results) == len(readings)
    rows = db.execute("SELECT device_id, kind, measured_at, value FROM readings").fetchall()
    assert {(d, Kind(k), t): v for d, k, t, v in rows} == {key: r.value for key, r in first.items()}
    differing = set()
    for r in readings:
        key = (r.device_id, r.kind, r.measured_at)
        if r.value != first[key].value:
            differing.add((key, r.value))
    assert db.execute("SELECT count(*) FROM reading_conflicts").fetchone() == (len(differing),)
