"""Faults mid-stream: ingest killed, broker restarted, database crashed, ingest offline.

The pass criterion is the Jepsen ``total-queue`` one (reference reliability_security.md
section 7, T1/T2/T6/T9): every published reading is stored, none twice, every batch is
acked to its gateway.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg
import pytest

from ingest.migrate import migrate
from ingest.settings import (
    BATCH_SIZE,
    DATABASE_URL,
    MAX_DELAY,
    MQTT_CLIENT_ID,
    MQTT_URL,
)
from tests.ingest.gateway_double import interleave, stream, wait_until

_PROCESS_TIMEOUT = 30.0


class IngestProcess:
    """``python -m ingest`` as a child process, restartable with the same settings."""

    def __init__(self, environ: dict[str, str], log_path: Path) -> None:
        self.environ = environ
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ingest"],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        wait_until(
            lambda: self.log().count("event=started") == self.starts or self._exited(),
            timeout=_PROCESS_TIMEOUT,
            what="ingest to start",
        )
        assert not self._exited(), self.log()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(_PROCESS_TIMEOUT)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(_PROCESS_TIMEOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None


@pytest.fixture
def ingest_process(tmp_path) -> Iterator[Callable[[dict[str, str]], IngestProcess]]:
    """``python -m ingest`` children; any still running are killed after the test."""
    made: list[IngestProcess] = []

    def make(environ: dict[str, str]) -> IngestProcess:
        made.append(IngestProcess(environ, tmp_path / f"ingest-{len(made)}.log"))
        return made[-1]

    yield make
    for ingest in made:
        if ingest.process is not None and ingest.process.poll() is None:
            ingest.kill()


def at_least(count, rows: int) -> bool:
    return bool(count("readings") >= rows)


@contextmanager
def writes_held(database_url: str) -> Iterator[None]:
    """No row goes into readings until the block ends (reads go on)."""
    with psycopg.connect(database_url) as conn:
        conn.execute("LOCK TABLE readings IN SHARE MODE")
        yield
        conn.rollback()


def flush_waiting(database_url: str) -> bool:
    """Whether a session of this database waits on a lock (ingest's flush, above)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return row is not None and row[0] > 0


def stored_keys(database_url: str) -> tuple[int, set[tuple[str, object]]]:
    """(rows, distinct (device, measured_at) keys) of the readings table."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT device_id, measured_at FROM readings").fetchall()
    return len(rows), set(rows)


def test_kill_9_three_times_mid_stream_loses_nothing_and_doubles_nothing(
    mosquitto, database_url, make_gateway, count, ingest_process
):
    environ = {
        **os.environ,
        DATABASE_URL: database_url,
        MQTT_URL: mosquitto.url,
        MQTT_CLIENT_ID: "ingest-crash-test",
        MAX_DELAY: "0.1",
        BATCH_SIZE: "500",
    }
    ingest = ingest_process(environ)
    ingest.start()
    gateway = make_gateway("gw-1", "gw-2")
    # 10,000 readings: 200 batches of 50, two gateways interleaved.
    batches = interleave(*(stream(gw, batches=100, size=50) for gw in ("gw-1", "gw-2")))
    published = {(r.device_id, r.measured_at) for b in batches for r in b.readings}
    assert len(published) == 10_000

    # As fast as the broker takes them: a backlog means messages in flight at the kills.
    first, rest = batches[:150], batches[150:]
    publisher = threading.Thread(target=gateway.publish, args=(first,))
    publisher.start()
    try:
        for threshold in (2000, 4500):
            wait_until(partial(at_least, count, threshold), what=f"{threshold} rows")
            ingest.kill()
            ingest.start()
    finally:
        publisher.join(60)
    # The third kill while a flush of the rest waits on the table, so what that process
    # received is surely unacknowledged: the next one must get it again, marked DUP.
    with writes_held(database_url):
        gateway.publish(rest)
        wait_until(lambda: flush_waiting(database_url), what="a flush waiting on the table")
        ingest.kill()
    ingest.start()
    wait_until(lambda: count("readings") >= 10_000, timeout=60, what="all 10,000 readings")
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 200, what="200 acked batches")
    assert ingest.terminate() == 0
    assert "event=stopped" in ingest.log()
    rows, keys = stored_keys(database_url)
    lost, duplicates = len(published - keys), rows - len(keys)
    assert (rows, lost, duplicates) == (10_000, 0, 0)
    assert set(gateway.acked_batch_ids()) == {b.batch_id for b in batches}
    assert ingest.log().count("event=started") == 4
    # The last process got what the third kill left unacknowledged.
    (redelivered,) = re.findall(r"event=stopped .*redelivered=(\d+)", ingest.log())
    assert int(redelivered) > 0


def test_a_graceful_broker_restart_mid_stream_loses_nothing(
    make_settings, start_ingest, make_gateway, mosquitto, count
):
    start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=60, size=20)
    gateway.publish(batches[:30])
    mosquitto.restart()  # SIGTERM: the broker saves sessions and queued messages
    wait_until(lambda: gateway.connected, what="the gateway to reconnect")
    gateway.publish(batches[30:])
    wait_until(lambda: count("readings") == 1200, what="all 1200 readings")
    # Acks published while the gateway had not resubscribed are gone: it resends those.
    gateway.resend_until_acked(batches)
    assert count("readings") == 1200


def test_a_database_crash_mid_stream_delays_acks_and_loses_nothing(
    postgres_cluster, make_settings, start_ingest, make_gateway
):
    url = postgres_cluster.url()
    migrate(url)
    ingest = start_ingest(make_settings(database_url=url))
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=20, size=10)
    gateway.publish(batches[:10])
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 10, what="the first 10 acks")
    postgres_cluster.stop(mode="immediate")  # a crash: recovery runs at the next start
    gateway.publish(batches[10:])
    wait_until(lambda: ingest.service.metrics().database_errors >= 1, what="a failed commit")
    assert len(set(gateway.acked_batch_ids())) == 10  # nothing acked while the database is down
    postgres_cluster.start()
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 20, timeout=40, what="20 acks")
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT count(*), count(DISTINCT measured_at) FROM readings")
        assert found.fetchone() == (200, 200)


def test_ingest_offline_while_5000_readings_arrive_stores_them_all(
    make_settings, start_ingest, make_gateway, mosquitto, count
):
    settings = make_settings(client_id="ingest-offline-test")
    start_ingest(settings).stop()  # the broker now keeps a session for this client id
    gateway = make_gateway("gw-1")
    # 1250 messages: more than Mosquitto's default queue of 1000 per client.
    gateway.publish(stream("gw-1", batches=1250, size=4))
    start_ingest(settings)
    wait_until(lambda: count("readings") == 5000, timeout=40, what="all 5000 readings")
    assert "Outgoing messages are being dropped" not in mosquitto.log()


def test_stopping_during_a_database_outage_acks_nothing_and_loses_nothing(
    postgres_cluster, make_settings, start_ingest, make_gateway
):
    url = postgres_cluster.url()
    migrate(url)
    settings = make_settings(database_url=url, client_id="ingest-outage-test")
    ingest = start_ingest(settings)
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=10, size=10)
    postgres_cluster.stop(mode="immediate")
    gateway.publish(batches)
    wait_until(lambda: ingest.service.metrics().database_errors >= 1, what="a failed commit")
    ingest.stop()  # returns promptly: the retry backoff waits on the stop event
    assert ingest.service.metrics().acked == 0
    assert gateway.acked_batch_ids() == []
    postgres_cluster.start()
    start_ingest(settings)  # same client id: the broker redelivers every unacked message
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 10, timeout=40, what="10 acks")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (100,)
