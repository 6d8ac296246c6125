"""Alert latency under load: from publishing a reading to its alert row being visible.

While simulated gateways publish the ingest benchmark's kind of load (1 Hz SpO2 streams,
50 readings a batch, as fast as ingest takes them, every reading attributed to an
enrolled patient so the rules run on all of it), a probe gateway publishes one crisis
blood pressure (systolic 200 mmHg) every ``PROBE_INTERVAL`` for a patient of its own.
Each probe is timed twice on the benchmark's clock: until the app-level ack of its batch
(ingest committed it: the floor, measured in the same run) and until a separate
connection polling the alerts table sees its red alert (what a clinician's screen could
show). The target (issue #5): p99 under 2 s for spot readings; sustained rules add their
duration (60 s red) by design.

Runs with nothing configured, on the servers ``telecare bench ingest`` uses
(telecare/bench/servers.py): ``TELECARE_DATABASE_URL`` and ``TELECARE_MQTT_URL`` when
set, else a private PostgreSQL (fsync on) and Mosquitto. Optional:
``TELECARE_BENCH_READINGS`` (load readings per level, default 300,000) and
``TELECARE_BENCH_PROBES`` (probe patients, default 1,000, half per level).
"""

from __future__ import annotations

import os
import platform
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devices.reading import Kind, Reading, Unit
from gateway.contract import Channel, ReadingsBatch, encode, new_batch_id, topic
from ingest.db import Connection, connect
from ingest.migrate import migrate
from ingest.monitoring_plan import enrol
from ingest.program import Program
from ingest.settings import DATABASE_URL, MQTT_CLIENT_ID, MQTT_URL, Broker
from telecare.bench.load import (
    EPOCH,
    READINGS_PER_BATCH,
    gateway_id,
    messages,
    oximeter,
    spo2_batches,
)
from telecare.bench.mqtt import Fleet
from telecare.bench.servers import Servers, scratch_database, servers, start_ingest

READINGS_VARIABLE = "TELECARE_BENCH_READINGS"
PROBES_VARIABLE = "TELECARE_BENCH_PROBES"
DEFAULT_READINGS = 300_000
LOAD_GATEWAYS = 100
# SpO2 percent, cycling: normal values, so the load raises no alert of its own.
SPO2_VALUES = range(95, 100)
PROBE_GATEWAY = "bench-probe"
PROBE_INTERVAL = 0.1
# Probe patients seeded (half per load level): more than a level's probes at its pace.
DEFAULT_PROBES = 1000
# How often the watcher looks for new alert rows: the resolution of the alert timings.
POLL_INTERVAL = 0.005
RUN_TIMEOUT = 600.0
# How long the last probes' alerts and acks may take to arrive once the load is acked.
ALERT_WAIT = 30.0
TARGET_P99 = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Latencies:
    name: str
    seconds: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    """One load level: the load's pace, and both timings of its probes."""

    rate: float | None
    readings: int
    seconds: float
    acks: Latencies
    alerts: Latencies

    @property
    def throughput(self) -> float:
        return self.readings / self.seconds


def run(environ: Mapping[str, str] | None = None) -> str:
    """Measure and return the Markdown table for docs/performance.md."""
    env = os.environ if environ is None else environ
    with servers(env) as measured_against:
        return _measure_levels(env, measured_against)


def _measure_levels(env: Mapping[str, str], measured_against: Servers) -> str:
    admin_url, mqtt_url = measured_against.admin_url, measured_against.mqtt_url
    count = int(env.get(READINGS_VARIABLE) or DEFAULT_READINGS)
    probe_count = int(env.get(PROBES_VARIABLE) or DEFAULT_PROBES)
    with scratch_database(admin_url) as url:
        migrate(url)
        with connect(url) as conn:
            probes = _seed(conn, probes=probe_count)
        tag = uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory() as logs:
            worker = start_ingest(
                {**env, DATABASE_URL: url, MQTT_URL: mqtt_url,
                 MQTT_CLIENT_ID: f"bench-alerts-{tag}"},
                Path(logs) / "ingest",
            )  # fmt: skip
            broker = Broker.from_url(mqtt_url)
            half = len(probes) // 2
            try:
                flood = _measure(url, broker, _load(count), probes[:half], rate=None)
                paced = _measure(
                    url,
                    broker,
                    _load(count, offset=count),
                    probes[half:],
                    rate=flood.throughput / 2,
                )
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(RUN_TIMEOUT)
    return _table([flood, paced], readings=count, servers=measured_against.description)


def _seed(conn: Connection, *, probes: int) -> list[tuple[int, str]]:
    """Load patients with oximeters on the load gateways, probe patients with cuffs."""
    org = _one(
        conn, "INSERT INTO organizations (kind, name) VALUES ('region', 'Bench') RETURNING id"
    )
    since = EPOCH - timedelta(days=1)
    seeded = []
    for index in range(LOAD_GATEWAYS + probes):
        probe = index >= LOAD_GATEWAYS
        device = f"bench-cuff-{index:04d}" if probe else oximeter(gateway_id(index))
        patient = _one(conn, "INSERT INTO patients (organization_id) VALUES (%s) RETURNING id",
                       (org,))  # fmt: skip
        conn.execute(
            "INSERT INTO devices (id, organization_id, model) VALUES (%s, %s, 'bench')",
            (device, org),
        )
        conn.execute(
            "INSERT INTO device_assignments (device_id, patient_id, period) "
            "VALUES (%s, %s, tstzrange(%s, NULL))",
            (device, patient, since),
        )
        enrol(conn, patient, Program.GENERAL, at=since)
        if probe:
            seeded.append((patient, device))
    conn.commit()
    return seeded


def _one(conn: Connection, query: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None  # INSERT ... RETURNING returns its row
    return int(row[0])


def _load(count: int, *, offset: int = 0) -> list[ReadingsBatch]:
    """``count`` normal SpO2 readings, one oximeter per load gateway, measured from
    ``offset`` seconds after EPOCH on."""
    return spo2_batches(count, gateways=LOAD_GATEWAYS, values=SPO2_VALUES, offset=offset)


def _measure(
    url: str,
    broker: Broker,
    load: list[ReadingsBatch],
    probes: list[tuple[int, str]],
    *,
    rate: float | None,
) -> Phase:
    """Publish the load (as fast as it goes, or ``rate`` readings/s) and the probes."""
    sent: dict[str, tuple[float, int]] = {}  # probe batch id -> (published at, patient)
    acked: dict[int, float] = {}
    alerted: dict[int, float] = {}
    load_ids = {batch.batch_id for batch in load}
    load_acked: set[str] = set()
    done = threading.Event()
    stop_watch = threading.Event()

    def on_ack(batch_ids: tuple[str, ...], arrived: float) -> None:
        for batch_id in batch_ids:
            if batch_id in sent:
                acked.setdefault(sent[batch_id][1], arrived)
            elif batch_id in load_ids:
                load_acked.add(batch_id)
        if len(load_acked) >= len(load_ids):
            done.set()

    def watch() -> None:
        wanted = {patient for patient, _ in probes}
        with connect(url, autocommit=True) as conn:
            while not stop_watch.is_set():
                for (patient,) in conn.execute(
                    "SELECT patient_id FROM alerts WHERE condition = 'systolic_high'"
                ):
                    if patient in wanted:
                        alerted.setdefault(patient, time.perf_counter())
                time.sleep(POLL_INTERVAL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with Fleet(broker, client_id=f"bench-alerts-{os.getpid()}", on_ack=on_ack) as fleet:
            prober = threading.Thread(target=_probe, args=(fleet, probes, sent, done), daemon=True)
            start = time.perf_counter()
            prober.start()
            fleet.publish_all(
                messages(load), per_second=None if rate is None else rate / READINGS_PER_BATCH
            )
            if not done.wait(RUN_TIMEOUT):
                raise RuntimeError(f"only {len(load_acked)} of {len(load)} load batches acked")
            seconds = time.perf_counter() - start
            prober.join(RUN_TIMEOUT)
            deadline = time.monotonic() + ALERT_WAIT
            while min(len(alerted), len(acked)) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop_watch.set()
    published = {patient: at for at, patient in sent.values()}
    missing = sorted(set(published) - set(alerted))
    if missing:
        raise RuntimeError(f"{len(missing)} probes raised no alert (patients {missing[:5]} ...)")
    return Phase(
        rate=rate,
        readings=len(load) * READINGS_PER_BATCH,
        seconds=seconds,
        acks=Latencies(name="floor: publish to app ack (committed)", seconds=[
            acked[p] - published[p] for p in published if p in acked]),
        alerts=Latencies(name="publish to red alert row visible", seconds=[
            alerted[p] - published[p] for p in published]),
    )  # fmt: skip


def _probe(
    fleet: Fleet,
    probes: list[tuple[int, str]],
    sent: dict[str, tuple[float, int]],
    done: threading.Event,
) -> None:
    """One crisis reading per probe patient, every PROBE_INTERVAL, while the load runs."""
    for patient, device in probes:
        if done.is_set():
            return
        reading = Reading(
            device_id=device,
            kind=Kind.SYSTOLIC,
            value=200.0,
            unit=Unit.MMHG,
            measured_at=datetime.now(UTC),
        )
        batch = ReadingsBatch(
            batch_id=new_batch_id(),
            gateway_id=PROBE_GATEWAY,
            sent_at=reading.measured_at,
            readings=(reading,),
        )
        sent[batch.batch_id] = (time.perf_counter(), patient)
        fleet.publish(topic(PROBE_GATEWAY, Channel.READINGS), encode(batch))
        time.sleep(PROBE_INTERVAL)


def _table(phases: list[Phase], *, readings: int, servers: str) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f"; {servers}; one ingest process; per load level {readings:,} SpO2 readings from "
        f"{LOAD_GATEWAYS} gateways, every reading judged by the rules; one probe every "
        f"{PROBE_INTERVAL * 1000:.0f} ms.",
        "",
        "| load | path | probes | p50 ms | p99 ms | max ms | ratio p99 to floor |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for phase in phases:
        load = (
            f"flood: {phase.throughput:,.0f} readings/s"
            if phase.rate is None
            else f"paced: {phase.rate:,.0f} readings/s"
        )
        floor = phase.acks.quantile(0.99)
        for entry in (phase.acks, phase.alerts):
            lines.append(
                f"| {load} | {entry.name} | {len(entry.seconds)} | "
                f"{entry.quantile(0.5) * 1000:,.0f} | {entry.quantile(0.99) * 1000:,.0f} | "
                f"{max(entry.seconds) * 1000:,.0f} | {entry.quantile(0.99) / floor:.2f}x |"
            )
    for phase in phases:
        p99 = phase.alerts.quantile(0.99)
        verdict = "meets" if p99 < TARGET_P99 else "misses"
        pace = "flood" if phase.rate is None else "paced load"
        lines.append("")
        lines.append(
            f"Target p99 < {TARGET_P99:.0f} s for spot readings under the {pace}: {verdict} it "
            f"({p99:.2f} s)."
        )
    return "\n".join(lines)
