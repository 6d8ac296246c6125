"""What the ingest service has done so far: counters, and a snapshot of them.

The service thread owns a ``Counters`` and bumps it; anyone may take ``snapshot()``,
a frozen ``Metrics``, which is also what the periodic ``event=metrics`` log line shows.
Every reading that reaches the database is exactly one of stored, duplicate, conflict
(``ingest.store``) or quarantined; every message is part of a committed batch, a
gateway status or a dead letter.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """A consistent snapshot of the counters."""

    # MQTT messages taken from the broker, and how many of them were redeliveries (DUP).
    received: int = 0
    redelivered: int = 0
    # Readings: newly stored, already stored (replays), same key with another value.
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    # Readings kept aside as implausible (new rows; a replay adds none).
    quarantined: int = 0
    # Messages that did not decode (or that the database refused), kept byte for byte.
    dead_letters: int = 0
    # Gateway status messages committed (ingest.gateway_status_store; replays included).
    statuses: int = 0
    # Gateway batches committed, and database transactions that committed them.
    batches: int = 0
    commits: int = 0
    # Failed commit attempts (database down, lost connection ...), all retried.
    database_errors: int = 0
    # MQTT messages acknowledged after their commit, and app-level acks published.
    acked: int = 0
    acks_published: int = 0
    last_commit_at: datetime | None = None
    # Seconds from receiving the oldest message of the last commit to that commit.
    lag_seconds: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Counters:
    """The mutable side: ``add`` under a lock, ``snapshot`` for readers on other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = asdict(Metrics())

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                self._values[_known(name)] += value

    def set(self, **values: object) -> None:
        with self._lock:
            for name, value in values.items():
                self._values[_known(name)] = value

    def snapshot(self) -> Metrics:
        with self._lock:
            return Metrics(**self._values)


_NAMES = frozenset(field.name for field in fields(Metrics))


def _known(name: str) -> str:
    if name not in _NAMES:
        raise KeyError(f"unknown metric {name!r}")
    return name
