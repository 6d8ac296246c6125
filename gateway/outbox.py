"""The outbox: readings the gateway holds until ingest confirms they are stored.

It is the gateway's durability boundary. ``add`` returns only after the readings are on
disk (SQLite, WAL journal, ``synchronous=FULL``: every commit is fsynced, so a reading
survives ``kill -9`` and power loss; sqlite.org/pragma.html#pragma_synchronous). paho
keeps its session in memory only (../shared/reference/reliability_security.md 1.3) and a
broker PUBACK is not durability (ibid. 0, finding 1), so a reading leaves only when an
app-level ack names its batch.

Readings wait unbatched in arrival order (``seq``). The publisher cuts a batch from the
oldest of them and the batch id is stored with its readings, so a resend after a lost
ack, a reconnect or a restart carries the same id (``gateway.contract`` ReadingsBatch).

**When full** (``capacity`` readings, our bound, like ThingsBoard's ``max_records_count``
or Greengrass ``maxSize``, reliability_security.md 1.4) the policy is *overwrite the
oldest continuous sample*: continuous oximeter samples are dropped oldest first, batched
or not, to make room. Spot readings (a cuff or spot-check measurement, taken by the
patient on purpose, often deleted from the device after transfer) are **never** dropped:
when only spot readings remain, a new continuous sample is refused and a new spot reading
is stored beyond ``capacity``. Spot readings arrive a few a day, so that overrun is
bounded by how long the gateway stays offline, not by the stream rate. Every drop is
counted, the outbox reports ``full`` until it falls below ``LOW_WATER`` of capacity, and
``add`` returns what it did so the service can raise a technical event.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

# The outbox stops reporting "full" once it holds less than this share of its capacity,
# so a gateway hovering at the cap does not flap its status.
LOW_WATER = 0.9

# The schema version this module writes (PRAGMA user_version).
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    measured_at TEXT NOT NULL,
    device_time TEXT,
    flags TEXT NOT NULL,
    absent_reason TEXT,
    original_value REAL,
    original_unit TEXT,
    user_id INTEGER,
    continuous INTEGER NOT NULL,
    batch_id TEXT
);
CREATE INDEX IF NOT EXISTS reading_batch ON reading (batch_id, seq);
CREATE INDEX IF NOT EXISTS reading_continuous ON reading (continuous, seq);
CREATE TABLE IF NOT EXISTS batch (
    batch_id TEXT PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS device_mark (
    device_id TEXT PRIMARY KEY,
    device_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_FLAG_SEPARATOR = ","
_DROPPED = "dropped_continuous"
_REFUSED = "refused_continuous"


@dataclass(frozen=True, slots=True, kw_only=True)
class Added:
    """What ``add`` did: readings stored, and continuous samples lost to the cap
    (``dropped``: older ones deleted; ``refused``: new ones not stored)."""

    stored: int
    dropped: int = 0
    refused: int = 0
    over_capacity: bool = False

    @property
    def lost(self) -> int:
        return self.dropped + self.refused


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxBatch:
    """A batch cut from the outbox: its id, its readings in arrival order, its attempts."""

    batch_id: str
    readings: tuple[Reading, ...]
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxCounts:
    depth: int
    batches: int
    dropped: int
    refused: int
    full: bool


class Outbox:
    """One SQLite file; use from one thread (the gateway's event loop)."""

    __slots__ = ("_capacity", "_db", "_full")

    def __init__(self, path: Path | str, *, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # executescript commits on its own; every statement is idempotent.
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._full = self.depth() >= capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- in ------------------------------------------------------------------------

    def add(self, readings: Sequence[Reading]) -> Added:
        """Store ``readings`` durably, applying the drop policy; one fsynced commit."""
        if not readings:
            return Added(stored=0)
        with self._transaction():
            depth = self._count("SELECT COUNT(*) FROM reading")
            room = self._capacity - depth
            continuous = sum(r.continuous for r in readings)
            spot = len(readings) - continuous
            # Make room for the new readings by dropping the oldest stored samples.
            dropped = self._drop_oldest_continuous(len(readings) - room)
            room += dropped
            # Only spot readings (or nothing) are left to drop: refuse the newest samples.
            samples_kept = min(continuous, max(0, room - spot))
            refused = continuous - samples_kept
            kept = _keep_samples(readings, samples_kept)
            self._db.executemany(
                "INSERT INTO reading (device_id, kind, value, unit, measured_at, device_time,"
                " flags, absent_reason, original_value, original_unit, user_id, continuous)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [_row(r) for r in kept],
            )
            self._advance_marks(kept)
            self._bump(_DROPPED, dropped)
            self._bump(_REFUSED, refused)
            depth = depth - dropped + len(kept)
        if dropped or refused or depth > self._capacity:
            self._full = True
        return Added(
            stored=len(kept),
            dropped=dropped,
            refused=refused,
            over_capacity=depth > self._capacity,
        )

    def _drop_oldest_continuous(self, count: int) -> int:
        if count <= 0:
            return 0
        cursor = self._db.execute(
            "DELETE FROM reading WHERE seq IN"
            " (SELECT seq FROM reading WHERE continuous = 1 ORDER BY seq LIMIT ?)",
            (count,),
        )
        # A batch whose readings were all dropped has nothing left to send.
        self._db.execute(
            "DELETE FROM batch WHERE NOT EXISTS"
            " (SELECT 1 FROM reading WHERE reading.batch_id = batch.batch_id)"
        )
        return cursor.rowcount

    def _advance_marks(self, readings: Iterable[Reading]) -> None:
        latest: dict[str, datetime] = {}
        for r in readings:
            if r.device_time is None or Flag.FROM_STORAGE not in r.flags:
                continue
            seen = latest.get(r.device_id)
            latest[r.device_id] = r.device_time if seen is None else max(seen, r.device_time)
        self._db.executemany(
            "INSERT INTO device_mark (device_id, device_time) VALUES (?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET device_time = excluded.device_time"
            " WHERE excluded.device_time > device_mark.device_time",
            [(device_id, moment.isoformat()) for device_id, moment in latest.items()],
        )

    def _bump(self, name: str, by: int) -> None:
        if by:
            self._db.execute(
                "INSERT INTO counter (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    # -- out -----------------------------------------------------------------------

    def next_batch(self, *, size: int, new_id: Callable[[], str]) -> OutboxBatch | None:
        """Cut a new batch from the oldest unbatched readings, or None when there are none."""
        with self._transaction():
            rows = self._db.execute(
                "SELECT seq FROM reading WHERE batch_id IS NULL ORDER BY seq LIMIT ?", (size,)
            ).fetchall()
            if not rows:
                return None
            batch_id = new_id()
            first, last = rows[0][0], rows[-1][0]
            self._db.execute(
                "INSERT INTO batch (batch_id, first_seq) VALUES (?, ?)", (batch_id, first)
            )
            self._db.execute(
                "UPDATE reading SET batch_id = ? WHERE batch_id IS NULL AND seq BETWEEN ? AND ?",
                (batch_id, first, last),
            )
        return self.batch(batch_id)

    def batch(self, batch_id: str) -> OutboxBatch | None:
        """A stored batch as it stands now (dropped samples no longer in it)."""
        head = self._db.execute(
            "SELECT attempts FROM batch WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        if head is None:
            return None
        rows = self._db.execute(
            "SELECT device_id, kind, value, unit, measured_at, device_time, flags,"
            " absent_reason, original_value, original_unit, user_id, continuous"
            " FROM reading WHERE batch_id = ? ORDER BY seq",
            (batch_id,),
        ).fetchall()
        return OutboxBatch(
            batch_id=batch_id, readings=tuple(_reading(row) for row in rows), attempts=head[0]
        )

    def pending_batches(self) -> list[tuple[str, float]]:
        """Every unacknowledged batch as (batch id, next attempt at), oldest first."""
        return [
            (batch_id, next_at)
            for batch_id, next_at in self._db.execute(
                "SELECT batch_id, next_attempt_at FROM batch ORDER BY first_seq"
            )
        ]

    def attempted(self, batch_id: str, *, next_attempt_at: float) -> None:
        """Record a send (or a refused one) and when to try again without an ack."""
        with self._transaction():
            self._db.execute(
                "UPDATE batch SET attempts = attempts + 1, next_attempt_at = ? WHERE batch_id = ?",
                (next_attempt_at, batch_id),
            )

    def acknowledge(self, batch_ids: Iterable[str]) -> int:
        """Forget acknowledged batches and their readings; the number of readings removed."""
        ids = [(batch_id,) for batch_id in batch_ids]
        with self._transaction():
            removed = self._db.executemany("DELETE FROM reading WHERE batch_id = ?", ids).rowcount
            self._db.executemany("DELETE FROM batch WHERE batch_id = ?", ids)
        if self._full and self.depth() < self._capacity * LOW_WATER:
            self._full = False
        return removed

    # -- state ---------------------------------------------------------------------

    def depth(self) -> int:
        return self._count("SELECT COUNT(*) FROM reading")

    def unbatched(self) -> int:
        """Readings not yet cut into a batch."""
        return self._count("SELECT COUNT(*) FROM reading WHERE batch_id IS NULL")

    def mark(self, device_id: str) -> datetime | None:
        """The newest device time of a record downloaded from ``device_id``'s storage
        (flag ``from_storage``): records up to it are taken and need not be kept again."""
        row = self._db.execute(
            "SELECT device_time FROM device_mark WHERE device_id = ?", (device_id,)
        ).fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def set_mark(self, device_id: str, device_time: datetime) -> None:
        """Move the mark, also backwards: after the gateway set a device's clock back,
        its next records carry earlier times than the ones already taken."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO device_mark (device_id, device_time) VALUES (?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET device_time = excluded.device_time",
                (device_id, device_time.isoformat()),
            )

    def counts(self) -> OutboxCounts:
        counters = dict(self._db.execute("SELECT name, value FROM counter").fetchall())
        return OutboxCounts(
            depth=self.depth(),
            batches=self._count("SELECT COUNT(*) FROM batch"),
            dropped=counters.get(_DROPPED, 0),
            refused=counters.get(_REFUSED, 0),
            full=self._full,
        )

    def _count(self, sql: str) -> int:
        count: int = self._db.execute(sql).fetchone()[0]
        return count


def _keep_samples(readings: Sequence[Reading], samples: int) -> list[Reading]:
    """Every spot reading and the first ``samples`` continuous ones, in order."""
    kept: list[Reading] = []
    for r in readings:
        if r.continuous:
            if samples <= 0:
                continue
            samples -= 1
        kept.append(r)
    return kept


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on an exception."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


_Row = tuple[
    str, str, float | None, str, str, str | None, str, str | None, float | None, str | None,
    int | None, int,
]  # fmt: skip


def _row(r: Reading) -> _Row:
    return (
        r.device_id,
        r.kind.value,
        r.value,
        r.unit.value,
        r.measured_at.isoformat(),
        None if r.device_time is None else r.device_time.isoformat(),
        _FLAG_SEPARATOR.join(sorted(flag.value for flag in r.flags)),
        None if r.absent_reason is None else r.absent_reason.value,
        r.original_value,
        None if r.original_unit is None else r.original_unit.value,
        r.user_id,
        int(r.continuous),
    )


def _reading(row: _Row) -> Reading:
    (device_id, kind, value, unit, measured_at, device_time, flags, absent, original,
     original_unit, user_id, continuous) = row  # fmt: skip
    return Reading(
        device_id=device_id,
        kind=Kind(kind),
        value=value,
        unit=Unit(unit),
        measured_at=datetime.fromisoformat(measured_at),
        device_time=None if device_time is None else datetime.fromisoformat(device_time),
        flags=frozenset(Flag(f) for f in flags.split(_FLAG_SEPARATOR) if f),
        absent_reason=None if absent is None else AbsentReason(absent),
        original_value=original,
        original_unit=None if original_unit is None else Unit(original_unit),
        user_id=user_id,
        continuous=bool(continuous),
    )
