"""Counters: bumped by the service thread, read as consistent snapshots by anyone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ingest.metrics import Counters, Metrics


def test_counters_add_and_set_into_a_snapshot():
    counters = Counters()
    counters.add(received=3, stored=100)
    counters.add(received=1, duplicates=5)
    at = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
    counters.set(last_commit_at=at, lag_seconds=0.25)
    assert counters.snapshot() == Metrics(
        received=4, stored=100, duplicates=5, last_commit_at=at, lag_seconds=0.25
    )


def test_an_unknown_counter_is_an_error():
    with pytest.raises(KeyError, match="recieved"):
        Counters().add(recieved=1)


def test_concurrent_adds_are_not_lost():
    counters = Counters()

    def bump() -> None:
        for _ in range(10_000):
            counters.add(received=1)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot().received == 40_000


def test_snapshots_are_plain_data():
    assert Metrics(received=2).as_dict()["received"] == 2
