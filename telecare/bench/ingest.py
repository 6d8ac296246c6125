"""End-to-end ingest throughput: readings published to the broker until stored and acked.

Simulated gateways publish readings batches (50 readings each, QoS 1) as fast as the
pipeline takes them; the clock stops at the last app-level ack, which ingest sends only
after the commit. The same run measures 1 and 2 ``python -m ingest`` processes (2 share a
``$share`` group) and the floor: binary COPY of the same rows into the same table, in
transactions of ingest's batch size, without MQTT, decoding or deduplication.

Runs with nothing configured: the database and the broker are ``TELECARE_DATABASE_URL``
and ``TELECARE_MQTT_URL`` when set, else private ones (telecare/bench/servers.py:
PostgreSQL with fsync on like a production server, and Mosquitto). Optional,
for quick iterations: ``TELECARE_BENCH_READINGS`` (default 500,000),
``TELECARE_BENCH_ROUNDS`` (runs per path, default 3) and ``TELECARE_BENCH_PROCESSES``
(comma-separated ingest process counts, default "1,2").

The machine may be shared: each run's rate goes with the 1-minute load average before
and after it, under the table.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.contract import ReadingsBatch
from ingest.db import connect
from ingest.migrate import migrate
from ingest.settings import (
    BATCH_SIZE,
    DATABASE_URL,
    DEFAULT_BATCH_SIZE,
    MQTT_CLIENT_ID,
    MQTT_SHARED_GROUP,
    MQTT_URL,
    Broker,
)
from ingest.store import STORED_COLUMNS
from telecare.bench.load import READINGS_PER_BATCH, messages, spo2_batches
from telecare.bench.mqtt import Fleet
from telecare.bench.servers import Servers, scratch_database, servers, start_ingest

READINGS_VARIABLE = "TELECARE_BENCH_READINGS"
ROUNDS_VARIABLE = "TELECARE_BENCH_ROUNDS"
PROCESSES_VARIABLE = "TELECARE_BENCH_PROCESSES"
DEFAULT_READINGS = 500_000
GATEWAYS = 100
# SpO2 percent, cycling: the load's values (no rule runs: no reading has a patient).
SPO2_VALUES = range(90, 100)
# Ingest process counts measured, as the issue asks: one, and two sharing a group.
DEFAULT_PROCESS_COUNTS = (1, 2)
# Each path is measured this many times; the table shows the median and the spread.
DEFAULT_ROUNDS = 3
# Bound on an ingest process's graceful stop.
STOP_TIMEOUT = 30.0
RUN_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One measured pass; ``cpu_seconds`` is what the ingest processes used (if known)."""

    readings: int
    seconds: float
    cpu_seconds: float | None = None
    # 1-minute load average before and after the run (the machine may be shared).
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def per_second(self) -> float:
        return self.readings / self.seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """Repeated runs of one path: median and spread of the rate."""

    name: str
    runs: tuple[Run, ...]

    @property
    def per_second(self) -> float:
        return statistics.median(run.per_second for run in self.runs)

    @property
    def cpu_us_per_reading(self) -> float | None:
        spent = [run.cpu_seconds / run.readings for run in self.runs if run.cpu_seconds]
        return statistics.median(spent) * 1e6 if spent else None


def run(environ: Mapping[str, str] | None = None) -> str:
    """Measure and return the Markdown table for docs/performance.md."""
    env = os.environ if environ is None else environ
    with servers(env) as measured_against:
        return _measure(env, measured_against)


def _measure(env: Mapping[str, str], servers: Servers) -> str:
    admin_url, mqtt_url = servers.admin_url, servers.mqtt_url
    count = int(env.get(READINGS_VARIABLE) or DEFAULT_READINGS)
    rounds = int(env.get(ROUNDS_VARIABLE) or DEFAULT_ROUNDS)
    process_counts = _process_counts(env.get(PROCESSES_VARIABLE))
    # The floor commits as often as ingest does.
    per_transaction = int(env.get(BATCH_SIZE) or DEFAULT_BATCH_SIZE)
    batches = spo2_batches(count, gateways=GATEWAYS, values=SPO2_VALUES)
    payloads = messages(batches)
    with scratch_database(admin_url) as url:
        migrate(url)
        floor = Result(
            name="floor: binary COPY, same rows, same table",
            runs=tuple(
                _copy_floor(url, batches, per_transaction=per_transaction) for _ in range(rounds)
            ),
        )
        results = [
            Result(
                name=f"end to end, {processes} ingest process{'es' if processes > 1 else ''}",
                runs=tuple(
                    _end_to_end(url, mqtt_url, payloads, processes=processes, environ=env)
                    for _ in range(rounds)
                ),
            )
            for processes in process_counts
        ]
    return _table(floor, results, per_transaction=per_transaction, servers=servers.description)


def _process_counts(text: str | None) -> tuple[int, ...]:
    if not text:
        return DEFAULT_PROCESS_COUNTS
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise SystemExit(f"{PROCESSES_VARIABLE} must list process counts >= 1, got {text!r}")
    return counts


def _copy_floor(url: str, batches: list[ReadingsBatch], *, per_transaction: int) -> Run:
    received_at = datetime.now(UTC)
    rows: list[tuple[object, ...]] = [
        (
            r.measured_at, r.device_id, r.kind.value, r.value, None, r.unit.value, [], None,
            None, None, None, r.continuous, b.gateway_id, received_at, uuid.UUID(b.batch_id),
        )
        for b in batches
        for r in b.readings
    ]  # fmt: skip
    columns = ", ".join(name for name, _ in STORED_COLUMNS)
    types = [pg_type for _, pg_type in STORED_COLUMNS]
    with connect(url) as conn:
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        for first in range(0, len(rows), per_transaction):
            with conn.cursor() as cur:
                copy_sql = f"COPY readings ({columns}) FROM STDIN (FORMAT BINARY)"
                with cur.copy(copy_sql) as copy:
                    copy.set_types(types)
                    for row in rows[first : first + per_transaction]:
                        copy.write_row(row)
            conn.commit()
        seconds = time.perf_counter() - start
        load = (load_before, os.getloadavg()[0])
        conn.execute("TRUNCATE readings")
        conn.commit()
    return Run(readings=len(rows), seconds=seconds, load=load)


def _end_to_end(
    url: str,
    mqtt_url: str,
    payloads: list[tuple[str, bytes]],
    *,
    processes: int,
    environ: Mapping[str, str],
) -> Run:
    tag = uuid.uuid4().hex[:8]
    env = {**environ, DATABASE_URL: url, MQTT_URL: mqtt_url}
    if processes > 1:
        env[MQTT_SHARED_GROUP] = f"bench-{tag}"
    with tempfile.TemporaryDirectory() as logs:
        workers = [
            start_ingest({**env, MQTT_CLIENT_ID: f"bench-ingest-{tag}-{n}"}, Path(logs) / f"{n}")
            for n in range(processes)
        ]
        cpu_at_start = _cpu_seconds(workers)
        load_before = os.getloadavg()[0]
        try:
            seconds = _publish_until_acked(Broker.from_url(mqtt_url), payloads)
            cpu_at_end = _cpu_seconds(workers)
            load = (load_before, os.getloadavg()[0])
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
                worker.wait(STOP_TIMEOUT)
    with connect(url) as conn:
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        conn.execute("TRUNCATE readings")
        conn.commit()
    readings = len(payloads) * READINGS_PER_BATCH
    if stored is None or stored[0] != readings:
        raise RuntimeError(f"stored {stored} readings of {readings}")
    cpu = None if cpu_at_start is None or cpu_at_end is None else cpu_at_end - cpu_at_start
    return Run(readings=readings, seconds=seconds, cpu_seconds=cpu, load=load)


def _cpu_seconds(workers: list[subprocess.Popen[bytes]]) -> float | None:
    """User + system CPU of the processes so far (Linux /proc; None elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for worker in workers:
        try:
            stat = Path(f"/proc/{worker.pid}/stat").read_text()
        except OSError:
            return None
        # proc(5): fields 14 and 15 are utime and stime; the name (field 2) may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _publish_until_acked(broker: Broker, payloads: list[tuple[str, bytes]]) -> float:
    """Seconds from the first publish to the ack of the last batch."""
    expected = len(payloads)
    acked: set[str] = set()
    done = threading.Event()
    last_ack = [0.0]

    def on_ack(batch_ids: tuple[str, ...], arrived: float) -> None:
        acked.update(batch_ids)
        if len(acked) >= expected:
            last_ack[0] = arrived
            done.set()

    with Fleet(broker, client_id=f"bench-fleet-{os.getpid()}", on_ack=on_ack) as fleet:
        start = time.perf_counter()
        fleet.publish_all(payloads)
        if not done.wait(RUN_TIMEOUT):
            raise RuntimeError(f"only {len(acked)} of {expected} batches acked")
        return last_ack[0] - start


def _table(floor: Result, results: list[Result], *, per_transaction: int, servers: str) -> str:
    readings = floor.runs[0].readings
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f"; {servers}; {readings:,} readings in batches of {READINGS_PER_BATCH}, "
        f"{per_transaction} per transaction; median (min-max) of {len(floor.runs)} runs.",
        "",
        "| path | readings/s | ratio to floor | ingest CPU µs per reading |",
        "|---|---:|---:|---:|",
    ]
    for result in (floor, *results):
        rates = [run.per_second for run in result.runs]
        cpu = result.cpu_us_per_reading
        lines.append(
            f"| {result.name} | {result.per_second:,.0f} ({min(rates):,.0f}-{max(rates):,.0f}) "
            f"| {result.per_second / floor.per_second:.0%} "
            f"| {'-' if cpu is None else f'{cpu:.1f}'} |"
        )
    lines += ["", "Each run in order: readings/s (1-minute load average before -> after)."]
    lines += [
        f"- {result.name}: "
        + ", ".join(
            f"{run.per_second:,.0f} ({run.load[0]:.2f} -> {run.load[1]:.2f})" for run in result.runs
        )
        for result in (floor, *results)
    ]
    return "\n".join(lines)
