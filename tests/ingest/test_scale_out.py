"""Scale-out: two ``telecare ingest`` processes on one ``$share`` subscription.

Real processes against a real Mosquitto and PostgreSQL, as a deployment runs them
(deploy/compose.yaml: two replicas, one shared group). They split the stream with
exact counts; and when one of them is killed (SIGKILL) mid-stream, nothing is lost:
what it held unacknowledged comes again from the gateway double's resends, as it would
from a gateway's outbox, and idempotent storage keeps the count exact.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.contract import ReadingsBatch
from tests.ingest.gateway_double import GatewayDouble, stream, wait_until

# The command a deployment runs, from this interpreter's environment.
TELECARE = Path(sys.executable).with_name("telecare")
SHARED_GROUP = "ingest"
EXIT_OK = 0
PROCESS_TIMEOUT = 30.0
# 4 gateways x 50 batches x 10 readings: enough for both members to get a share and for
# a kill to land mid-stream.
GATEWAYS = tuple(f"gw-{n}" for n in range(4))
BATCHES_PER_GATEWAY = 50
READINGS_PER_BATCH = 10
TOTAL_READINGS = len(GATEWAYS) * BATCHES_PER_GATEWAY * READINGS_PER_BATCH
# Seconds between the gateway double's resends (a gateway's backoff starts near this).
RESEND_EVERY = 0.5
STOPPED_STORED = re.compile(r"event=stopped .*\bstored=(\d+)")


class IngestProcess:
    def __init__(self, name: str, *, database_url: str, mqtt_url: str, log: Path) -> None:
        self.log = log
        environ = {
            **os.environ,
            "TELECARE_DATABASE_URL": database_url,
            "TELECARE_MQTT_URL": mqtt_url,
            "TELECARE_MQTT_CLIENT_ID": f"scale-out-{name}",
            "TELECARE_MQTT_SHARED_GROUP": SHARED_GROUP,
        }
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(TELECARE), "ingest"], env=environ, stdout=output, stderr=subprocess.STDOUT
            )

    def started(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        return "event=started" in self.log.read_text()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(PROCESS_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(PROCESS_TIMEOUT)

    def stored(self) -> int:
        """Readings stored, from the line ingest logs when it stops."""
        found = STOPPED_STORED.search(self.log.read_text())
        assert found is not None, self.log.read_text()
        return int(found[1])


@pytest.fixture
def start_process(database_url, mosquitto, tmp_path) -> Iterator[Callable[[str], IngestProcess]]:
    processes: list[IngestProcess] = []

    def start(name: str) -> IngestProcess:
        process = IngestProcess(
            name,
            database_url=database_url,
            mqtt_url=mosquitto.url,
            log=tmp_path / f"{name}.log",
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def _readings(database_url: str) -> tuple[int, int]:
    """All stored readings, and how many distinct keys they have."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_id, kind, measured_at)) FROM readings"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _two_members(start_process) -> tuple[IngestProcess, IngestProcess]:
    first, second = start_process("one"), start_process("two")
    wait_until(lambda: first.started() and second.started(), what="both processes started")
    return first, second


def _stream() -> list[ReadingsBatch]:
    streams = [stream(gw, batches=BATCHES_PER_GATEWAY, size=READINGS_PER_BATCH) for gw in GATEWAYS]
    return [b for turn in zip(*streams, strict=True) for b in turn]


def test_two_processes_carry_a_stream_together_exactly(start_process, make_gateway, database_url):
    first, second = _two_members(start_process)
    gateway: GatewayDouble = make_gateway(*GATEWAYS)
    batches = _stream()
    gateway.publish(batches)
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == len(batches), what="every ack")
    assert _readings(database_url) == (TOTAL_READINGS, TOTAL_READINGS)
    assert (first.stop(), second.stop()) == (EXIT_OK, EXIT_OK)
    shares = (first.stored(), second.stored())
    assert sum(shares) == TOTAL_READINGS
    assert min(shares) > 0  # both members of the group did part of the work


def test_one_process_killed_mid_stream_loses_nothing(start_process, make_gateway, database_url):
    first, second = _two_members(start_process)
    gateway: GatewayDouble = make_gateway(*GATEWAYS)
    batches = _stream()
    half = len(batches) // 2
    gateway.publish(batches[:half])
    wait_until(lambda: len(gateway.acked_batch_ids()) > 0, what="the stream flowing")
    first.kill()  # SIGKILL: no flush, no acks for what it held, its session left behind
    acked_at_kill = set(gateway.acked_batch_ids())
    gateway.publish(batches[half:])
    # Mosquitto keeps queueing the dead member's share into its persistent session
    # (eclipse-mosquitto/mosquitto#2662), resends included: each resend round gets half
    # of what is missing through, so a few rounds carry everything.
    gateway.resend_until_acked(batches, every=RESEND_EVERY)
    assert len(acked_at_kill) < len(batches)
    assert _readings(database_url) == (TOTAL_READINGS, TOTAL_READINGS)
    assert second.stop() == EXIT_OK
    assert second.stored() > 0
