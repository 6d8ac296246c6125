"""Storing readings: idempotent, conflict-aware, attributed to the right patient.

``store_batch`` writes the readings of one or more arrived batches in one transaction.
Each reading's ``patient_id`` comes from the device assignment whose period contains its
``measured_at`` (none: NULL), so a reused device's old readings never reach its current
patient. The usual case, all readings new, goes the cheapest way there is:

1. one query finds, for each device, the assignment that holds the whole time span of
   its readings in this call;
2. binary COPY straight into ``readings`` with those patients, in a savepoint: what the
   benchmark's floor does (docs/performance.md, Ingest).

When a key is already stored or repeats (a unique violation undoes the savepoint), or an
assignment starts or ends within a device's span, the readings take the general path:

3. binary COPY into a session-private staging table (``ON COMMIT DELETE ROWS``),
4. ``INSERT ... SELECT ... ON CONFLICT (device_id, kind, measured_at) DO NOTHING``,
   attributing row by row from ``device_assignments``,
5. only when some rows were not inserted: staged rows whose stored twin has a different
   value or absent reason go to ``reading_conflicts`` (the first stored value is kept);
   the rest were plain duplicates (QoS 1 redeliveries, gateway resends).

Every reading given is exactly one of inserted, duplicate or conflict. The quarantined
readings of the same arrivals are inserted in the same transaction; undecodable payloads
go to ``insert_dead_letter``. The caller commits (and only then acks); on a connection
with no transaction open, ``store_batch`` commits itself.

Staging/COPY follows the measured floor in reference floors.md 3.2 (path iv) and
timescaledb-parallel-copy's ``--on-conflict-do-nothing`` (reference perf.md 1.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol
from uuid import UUID

from devices.reading import Flag, Kind, Reading
from gateway.contract import MAX_PAYLOAD_BYTES
from ingest.db import Connection, in_transaction
from ingest.plausibility import Quarantined

# A reading's columns as stored (readings, quarantined_readings, staging) with their
# PostgreSQL types, in the order _reading_fields gives them; then the arrival's columns.
# One table drives the SQL column lists and COPY's set_types.
READING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("measured_at", "timestamptz"),
    ("device_id", "text"),
    ("kind", "text"),
    ("value", "float8"),
    ("absent_reason", "text"),
    ("unit", "text"),
    ("flags", "text[]"),
    ("device_time", "timestamp"),
    ("original_value", "float8"),
    ("original_unit", "text"),
    ("device_user_id", "int2"),
    ("continuous", "bool"),
)
ARRIVAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("gateway_id", "text"),
    ("received_at", "timestamptz"),
    ("batch_id", "uuid"),
)
STORED_COLUMNS = READING_COLUMNS + ARRIVAL_COLUMNS
STAGING_COLUMNS = (("seq", "int8"), *STORED_COLUMNS)
STAGING = "pg_temp.reading_staging"


def _names(columns: tuple[tuple[str, str], ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name, _ in columns)


# Positions in a row of STORED_COLUMNS.
_MEASURED_AT, _DEVICE_ID, _KIND = 0, 1, 2

# The common case: every reading is new. For each device, the assignment that overlaps
# the span of its readings in this call, and whether it holds the whole span.
SPAN_PATIENTS = """
SELECT s.device_id, a.patient_id, a.period @> s.first AND a.period @> s.last
FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS s (device_id, first, last)
JOIN device_assignments AS a
    ON a.device_id = s.device_id AND a.period && tstzrange(s.first, s.last, '[]')
"""
COPY_READINGS = f"COPY readings ({_names(STORED_COLUMNS)}, patient_id) FROM STDIN (FORMAT BINARY)"
READINGS_COPY_TYPES = [pg_type for _, pg_type in STORED_COLUMNS] + ["int8"]
# A key already stored (PostgreSQL documentation, Appendix A: unique_violation).
UNIQUE_VIOLATION = "23505"

# Otherwise: stage, then insert what is new. Creating the staging table empties it too.
CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS reading_staging (
    {", ".join(f"{name} {pg_type}" for name, pg_type in STAGING_COLUMNS)}
) ON COMMIT DELETE ROWS;
DELETE FROM {STAGING}
"""
COPY_STAGING = f"COPY {STAGING} ({_names(STAGING_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
STAGING_TYPES = [pg_type for _, pg_type in STAGING_COLUMNS]

# ORDER BY seq: within one call the first arrival of a key is the one stored.
INSERT_READINGS = f"""
INSERT INTO readings ({_names(STORED_COLUMNS)}, patient_id)
SELECT {_names(STORED_COLUMNS, "s.")}, a.patient_id
FROM {STAGING} AS s
LEFT JOIN device_assignments AS a ON a.device_id = s.device_id AND a.period @> s.measured_at
ORDER BY s.seq
ON CONFLICT (device_id, kind, measured_at) DO NOTHING
RETURNING device_id, kind, measured_at, patient_id
"""

RECORD_CONFLICTS = f"""
WITH differing AS (
    SELECT s.seq, s.device_id, s.kind, s.measured_at,
           r.value AS kept_value, r.absent_reason AS kept_absent_reason,
           r.batch_id AS kept_batch_id,
           s.value, s.absent_reason, s.unit, s.flags, s.batch_id, s.gateway_id, s.received_at
    FROM {STAGING} AS s
    JOIN readings AS r USING (device_id, kind, measured_at)
    WHERE (s.value, s.absent_reason) IS DISTINCT FROM (r.value, r.absent_reason)
), recorded AS (
    INSERT INTO reading_conflicts (device_id, kind, measured_at, kept_value, kept_absent_reason,
        kept_batch_id, value, absent_reason, unit, flags, batch_id, gateway_id, received_at)
    SELECT device_id, kind, measured_at, kept_value, kept_absent_reason, kept_batch_id,
           value, absent_reason, unit, flags, batch_id, gateway_id, received_at
    FROM differing
    ORDER BY seq
    ON CONFLICT ON CONSTRAINT reading_conflicts_once DO NOTHING
)
SELECT count(*) FROM differing
"""

INSERT_QUARANTINED = f"""
INSERT INTO quarantined_readings (reason, {_names(STORED_COLUMNS)})
VALUES (%s{", %s" * len(STORED_COLUMNS)})
ON CONFLICT ON CONSTRAINT quarantined_readings_once DO NOTHING
"""

INSERT_DEAD_LETTER = """
INSERT INTO dead_letters (topic, gateway_id, payload, payload_size, error, received_at,
    last_received_at)
VALUES (%(topic)s, %(gateway_id)s, %(payload)s, %(size)s, %(error)s, %(at)s, %(at)s)
ON CONFLICT ON CONSTRAINT dead_letters_once DO UPDATE
SET occurrences = dead_letters.occurrences + 1,
    last_received_at = greatest(dead_letters.last_received_at, excluded.last_received_at)
"""

# A dead letter keeps at most this much of its payload: any payload of a size the
# contract allows is kept whole, and a flood of huge junk cannot fill the database.
# payload_size keeps the real length.
DEAD_LETTER_MAX_BYTES = MAX_PAYLOAD_BYTES

ReadingKey = tuple[str, Kind, datetime]


class DecodedBatch(Protocol):
    """What ``Arrival.of`` needs of a batch (gateway.contract.ReadingsBatch has it)."""

    @property
    def gateway_id(self) -> str: ...
    @property
    def batch_id(self) -> str: ...
    @property
    def readings(self) -> tuple[Reading, ...]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """One batch as it reached ingest: where from, when, and what to store of it.

    ``readings`` are the accepted readings, ``quarantined`` those plausibility rejected
    (ingest/plausibility.py); a decoded contract batch gives gateway_id and batch_id.
    """

    gateway_id: str
    batch_id: UUID
    received_at: datetime
    readings: tuple[Reading, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()

    def __post_init__(self) -> None:
        if not self.gateway_id:
            raise ValueError("gateway_id must not be empty")
        if not isinstance(self.batch_id, UUID):
            raise TypeError(f"batch_id must be a UUID, got {type(self.batch_id).__name__}")
        if self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")

    @classmethod
    def of(
        cls,
        batch: DecodedBatch,
        *,
        received_at: datetime,
        readings: Sequence[Reading] | None = None,
        quarantined: Sequence[Quarantined] = (),
    ) -> Arrival:
        """The arrival of a decoded batch; ``readings`` defaults to all of the batch's."""
        return cls(
            gateway_id=batch.gateway_id,
            batch_id=UUID(batch.batch_id),
            received_at=received_at,
            readings=tuple(batch.readings if readings is None else readings),
            quarantined=tuple(quarantined),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreResult:
    """What ``store_batch`` did; inserted + duplicates + conflicts = readings given.

    ``patients`` maps each newly inserted reading that was attributed to a patient to
    that patient's id: the readings alert rules must judge.
    """

    inserted: int
    duplicates: int
    conflicts: int
    quarantined: int
    patients: Mapping[ReadingKey, int]


def store_batch(conn: Connection, arrivals: Sequence[Arrival]) -> StoreResult:
    """Store the readings and quarantined readings of ``arrivals`` in one transaction.

    Inside the caller's transaction, that one holds it all (and an error leaves it for
    the caller to roll back); on a connection with none open, this call is one.
    """
    with nullcontext() if in_transaction(conn) else conn.transaction():
        quarantined = insert_quarantined(conn, arrivals)
        rows = _reading_rows(arrivals)
        if not rows:
            return StoreResult(
                inserted=0,
                duplicates=0,
                conflicts=0,
                quarantined=quarantined,
                patients=MappingProxyType({}),
            )
        patients = _patients_by_device(conn, rows)
        if patients is not None and _copy_new(conn, rows, patients):
            attributed = (
                {
                    (row[_DEVICE_ID], row[_KIND], row[_MEASURED_AT]): patient_id
                    for row in rows
                    if (patient_id := patients.get(row[_DEVICE_ID])) is not None
                }
                if patients
                else {}
            )
            return StoreResult(
                inserted=len(rows),
                duplicates=0,
                conflicts=0,
                quarantined=quarantined,
                patients=MappingProxyType(attributed),
            )
        return _insert_staged(conn, rows, quarantined=quarantined)


def _patients_by_device(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int] | None:
    """Each device's patient over the span of its rows, or None for an assignment that
    starts or ends within one: then only the row-by-row join can attribute them."""
    spans: dict[str, list[datetime]] = {}
    for row in rows:
        measured_at = row[_MEASURED_AT]
        span = spans.get(row[_DEVICE_ID])
        if span is None:
            spans[row[_DEVICE_ID]] = [measured_at, measured_at]
        elif measured_at < span[0]:
            span[0] = measured_at
        elif measured_at > span[1]:
            span[1] = measured_at
    found = conn.execute(
        SPAN_PATIENTS,
        (list(spans), [span[0] for span in spans.values()], [span[1] for span in spans.values()]),
    ).fetchall()
    patients = {}
    for device_id, patient_id, whole_span in found:
        if not whole_span:
            return None
        patients[device_id] = patient_id
    return patients


def _copy_new(conn: Connection, rows: list[tuple[Any, ...]], patients: dict[str, int]) -> bool:
    """COPY the rows straight into readings; False (and nothing written) if a key was
    already stored, or repeats among them."""
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_READINGS) as copy:
            copy.set_types(READINGS_COPY_TYPES)
            for row in rows:
                copy.write_row((*row, patients.get(row[_DEVICE_ID])))
    except Exception as exc:  # the savepoint is rolled back; psycopg's error carries the state
        if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        return False
    return True


def _insert_staged(
    conn: Connection, rows: list[tuple[Any, ...]], *, quarantined: int
) -> StoreResult:
    """Stage the rows, insert the new ones attributed row by row, count the rest."""
    with conn.cursor() as cur:
        cur.execute(CREATE_STAGING)  # and empties it: a caller's transaction may hold rows
        with cur.copy(COPY_STAGING) as copy:
            copy.set_types(STAGING_TYPES)
            for seq, row in enumerate(rows):
                copy.write_row((seq, *row))
        cur.execute(INSERT_READINGS)
        inserted = cur.fetchall()
        conflicts = 0
        if len(inserted) < len(rows):
            cur.execute(RECORD_CONFLICTS)
            counted = cur.fetchone()
            conflicts = counted[0] if counted else 0
    patients = {
        (device_id, Kind(kind), measured_at): patient_id
        for device_id, kind, measured_at, patient_id in inserted
        if patient_id is not None
    }
    return StoreResult(
        inserted=len(inserted),
        duplicates=len(rows) - len(inserted) - conflicts,
        conflicts=conflicts,
        quarantined=quarantined,
        patients=MappingProxyType(patients),
    )


def insert_quarantined(conn: Connection, arrivals: Sequence[Arrival]) -> int:
    """Insert the quarantined readings of ``arrivals``; return how many were new."""
    params = [
        (q.reason.value, *_reading_fields(q.reading), *_arrival_fields(a))
        for a in arrivals
        for q in a.quarantined
    ]
    if not params:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(INSERT_QUARANTINED, params)
        return max(cur.rowcount, 0)


def insert_dead_letter(
    conn: Connection,
    *,
    topic: str,
    payload: bytes,
    error: str,
    received_at: datetime,
    gateway_id: str | None = None,
) -> None:
    """Keep a message that could not be decoded (a repeat only bumps its count)."""
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    with conn.transaction():
        conn.execute(
            INSERT_DEAD_LETTER,
            {
                "topic": topic,
                "gateway_id": gateway_id,
                "payload": payload[:DEAD_LETTER_MAX_BYTES],
                "size": len(payload),
                "error": error,
                "at": received_at,
            },
        )


def _reading_rows(arrivals: Sequence[Arrival]) -> list[tuple[Any, ...]]:
    """The arrivals' readings as rows of STORED_COLUMNS, in arrival order.

    What ``_reading_fields`` and ``_arrival_fields`` give, built in one pass: ingest
    builds a row per stored reading. Enum members go as they are: a StrEnum is its wire
    string, and binary COPY dumps each column as the type set_types names (text).
    """
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    flag_lists: dict[frozenset[Flag], list[Flag]] = {}
    for arrival in arrivals:
        gateway_id, received_at, batch_id = (
            arrival.gateway_id,
            arrival.received_at,
            arrival.batch_id,
        )
        for r in arrival.readings:
            flags = flag_lists.get(r.flags)
            if flags is None:
                flags = flag_lists[r.flags] = sorted(r.flags)
            append(
                (
                    r.measured_at,
                    r.device_id,
                    r.kind,
                    r.value,
                    r.absent_reason,
                    r.unit,
                    flags,
                    r.device_time,
                    r.original_value,
                    r.original_unit,
                    r.user_id,
                    r.continuous,
                    gateway_id,
                    received_at,
                    batch_id,
                )
            )
    return rows


def _reading_fields(reading: Reading) -> tuple[Any, ...]:
    """A reading's values in READING_COLUMNS order, enums as their strings."""
    return (
        reading.measured_at,
        reading.device_id,
        reading.kind.value,
        reading.value,
        None if reading.absent_reason is None else reading.absent_reason.value,
        reading.unit.value,
        sorted(flag.value for flag in reading.flags),
        reading.device_time,
        reading.original_value,
        None if reading.original_unit is None else reading.original_unit.value,
        reading.user_id,
        reading.continuous,
    )


def _arrival_fields(arrival: Arrival) -> tuple[Any, ...]:
    """An arrival's values in ARRIVAL_COLUMNS order."""
    return (arrival.gateway_id, arrival.received_at, arrival.batch_id)
