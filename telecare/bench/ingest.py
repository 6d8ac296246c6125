"""End-to-end ingest throughput: readings published to the broker until stored and acked.

Simulated gateways publish readings batches (50 readings each, QoS 1) as fast as the
pipeline takes them; the clock stops at the last app-level ack, which ingest sends only
after the commit. The same run measures 1 and 2 ``python -m ingest`` processes (2 share a
``$share`` group) and the floor: binary COPY of the same rows into the same table, in
transactions of ingest's batch size, without MQTT, decoding or deduplication.

Runs with nothing configured: it starts a private PostgreSQL cluster (the machine's
initdb/pg_ctl, with fsync on like a production server) and a private Mosquitto
(telecare.embedded) on loopback ports, and removes both afterwards. Given
``TELECARE_DATABASE_URL`` (a role that may create databases; a scratch database is
created and dropped) or ``TELECARE_MQTT_URL`` (a broker whose ``max_queued_messages`` is
raised, as deploy/ and the embedded config do), it uses that server instead. Optional,
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
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The benchmark plays a fleet of gateways on the wire; it measures the pipeline behind
# the broker, not the gateway's own publisher (gateway/mqtt.py).
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.reading import Kind, Reading, Unit
from gateway.contract import (
    Channel,
    ReadingsBatch,
    decode_ack,
    encode,
    new_batch_id,
    subscription,
    topic,
)
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
from telecare.embedded.broker import BrokerConfig, Mosquitto, free_port
from telecare.embedded.postgres import start_cluster

READINGS_VARIABLE = "TELECARE_BENCH_READINGS"
ROUNDS_VARIABLE = "TELECARE_BENCH_ROUNDS"
PROCESSES_VARIABLE = "TELECARE_BENCH_PROCESSES"
DEFAULT_READINGS = 500_000
# Gateway batch size: GatewayConfig's default batch of 50 (gateway/assignment.py).
READINGS_PER_BATCH = 50
GATEWAYS = 100
# Ingest process counts measured, as the issue asks: one, and two sharing a group.
DEFAULT_PROCESS_COUNTS = (1, 2)
# Each path is measured this many times; the table shows the median and the spread.
DEFAULT_ROUNDS = 3
# Outstanding QoS 1 publishes: far below the 65,535 packet ids a client has (floors.md 3.4).
PUBLISH_WINDOW = 1000
START_TIMEOUT = 30.0
RUN_TIMEOUT = 600.0
# Measurements start here: far in the past, so no plausibility rule objects.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# The private cluster's settings over telecare.embedded's test defaults (fsync off):
# the durability a production server has, so a commit costs what it costs there.
DURABLE_SERVER = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


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
    with _servers(env) as servers:
        return _measure(env, servers)


@dataclass(frozen=True, slots=True, kw_only=True)
class Servers:
    """The database and broker measured against, and how to name them in the table."""

    admin_url: str
    mqtt_url: str
    description: str


@contextmanager
def _servers(env: Mapping[str, str]) -> Iterator[Servers]:
    """The configured servers; a private one started for each that is not configured."""
    admin_url, mqtt_url = env.get(DATABASE_URL), env.get(MQTT_URL)
    described = []
    with tempfile.TemporaryDirectory(prefix="telecare-bench-ingest-") as scratch:
        cluster = broker = None
        try:
            if admin_url:
                described.append(f"PostgreSQL from {DATABASE_URL}")
            else:
                cluster = start_cluster(DURABLE_SERVER)
                admin_url = cluster.url()
                described.append(f"a private PostgreSQL ({cluster.bindir}, fsync on)")
            if mqtt_url:
                described.append(f"the broker from {MQTT_URL}")
            else:
                broker = Mosquitto(
                    Path(scratch) / "mosquitto", port=free_port(), config=BrokerConfig()
                )
                broker.start()
                mqtt_url = broker.url
                described.append("a private Mosquitto")
            yield Servers(
                admin_url=admin_url, mqtt_url=mqtt_url, description=" and ".join(described)
            )
        finally:
            if broker is not None:
                broker.stop()
            if cluster is not None:
                cluster.destroy()


def _measure(env: Mapping[str, str], servers: Servers) -> str:
    admin_url, mqtt_url = servers.admin_url, servers.mqtt_url
    count = int(env.get(READINGS_VARIABLE) or DEFAULT_READINGS)
    rounds = int(env.get(ROUNDS_VARIABLE) or DEFAULT_ROUNDS)
    process_counts = _process_counts(env.get(PROCESSES_VARIABLE))
    # The floor commits as often as ingest does.
    per_transaction = int(env.get(BATCH_SIZE) or DEFAULT_BATCH_SIZE)
    batches = _batches(count)
    payloads = [(topic(b.gateway_id, Channel.READINGS), encode(b)) for b in batches]
    with _scratch_database(admin_url) as url:
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


def _batches(count: int) -> list[ReadingsBatch]:
    """``count`` distinct SpO2 readings, one oximeter per gateway, gateways taking turns."""
    batches = []
    for number in range(count // READINGS_PER_BATCH):
        gateway = f"bench-gw-{number % GATEWAYS:03d}"
        first = (number // GATEWAYS) * READINGS_PER_BATCH
        readings = tuple(
            Reading(
                device_id=f"{gateway}-oximeter",
                kind=Kind.SPO2,
                value=float(90 + second % 10),
                unit=Unit.PERCENT,
                measured_at=EPOCH + timedelta(seconds=first + second),
                continuous=True,
            )
            for second in range(READINGS_PER_BATCH)
        )
        batches.append(
            ReadingsBatch(
                batch_id=new_batch_id(), gateway_id=gateway, sent_at=EPOCH, readings=readings
            )
        )
    return batches


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
            _start_ingest({**env, MQTT_CLIENT_ID: f"bench-ingest-{tag}-{n}"}, Path(logs) / f"{n}")
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
                worker.wait(START_TIMEOUT)
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


def _start_ingest(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT
    while "event=started" not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"ingest did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    return worker


def _publish_until_acked(broker: Broker, payloads: list[tuple[str, bytes]]) -> float:
    """Seconds from the first publish to the ack of the last batch."""
    expected = len(payloads)
    acked: set[str] = set()
    done = threading.Event()
    last_ack = [0.0]

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        acked.update(decode_ack(bytes(message.payload)).batch_ids)
        if len(acked) >= expected:
            last_ack[0] = time.perf_counter()
            done.set()

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fleet-{os.getpid()}")
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.subscribe(subscription(Channel.ACK), qos=1)
        if not subscribed.wait(START_TIMEOUT):
            raise RuntimeError("the broker did not confirm the ack subscription")
        start = time.perf_counter()
        window: deque[mqtt.MQTTMessageInfo] = deque()
        for name, payload in payloads:
            window.append(client.publish(name, payload, qos=1))
            if len(window) >= PUBLISH_WINDOW:
                window.popleft().wait_for_publish(RUN_TIMEOUT)
        if not done.wait(RUN_TIMEOUT):
            raise RuntimeError(f"only {len(acked)} of {expected} batches acked")
        return last_ack[0] - start
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    name = f"telecare_bench_{uuid.uuid4().hex[:12]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        with connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_database(url: str, name: str) -> str:
    if "://" in url:
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    return f"{url} dbname={name}"  # key=value form: a later key wins (libpq)


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
