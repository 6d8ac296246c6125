"""API latency: the triage list and a 30-day chart, p95 under load, against the SQL alone.

Seeds a scratch database (issue "Clinician and fleet API", benchmark): 10,000 patients
on one clinician's care team with a few recent readings each, 500 open alerts, and 30
days of 1 Hz oximetry (SpO2, pulse rate, perfusion index) for one patient. Starts
``telecare api`` (uvicorn, one process) in a subprocess, then a load generator in this
process keeps ``CONCURRENCY`` requests in flight for ``REQUESTS`` requests per scenario:

    triage  GET /patients (first page of 50, worst first, with latest readings)
    chart   GET /patients/{id}/readings/series, SpO2 over 30 days, at most 1,000 points

The floor is the same SQL the endpoint runs, sent one query at a time on one connection
(psycopg, no HTTP, no JSON, no auth, no audit insert). Targets (the issue): triage p95
under 100 ms, chart p95 under 150 ms on plain PostgreSQL.

Runs with nothing configured (telecare/bench/servers.py): the database is
``TELECARE_DATABASE_URL`` when set (a role that may create databases; a scratch database
is created and dropped), else a private PostgreSQL (fsync on). Optional:
``TELECARE_BENCH_OXIMETRY_DAYS`` (default 30), ``TELECARE_BENCH_REQUESTS`` (default 400
per scenario), ``TELECARE_BENCH_PATIENTS`` (default 10,000) and
``TELECARE_BENCH_CHART_POINTS`` (default 1,000; a chart's buckets come from the 15-minute
rollup once they are that wide, so a short span with few points reads the rollup too).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2

from api.access import CARE_TEAM_PATIENTS
from api.principal import Principal, Role
from api.queries.patients import CLINICAL_KINDS, LATEST_SQL, TRIAGE_SQL
from api.queries.readings import series_query
from api.queries.reviews import REVIEWED_KINDS, UNREVIEWED_SQL
from api.schemas.readings import SeriesSource
from api.token import issue_access_token
from devices.reading import Kind
from ingest.db import Connection, connect
from ingest.migrate import migrate
from telecare.bench.servers import database, scratch_database
from telecare.embedded.port import free_port

DAYS_VARIABLE = "TELECARE_BENCH_OXIMETRY_DAYS"
REQUESTS_VARIABLE = "TELECARE_BENCH_REQUESTS"
PATIENTS_VARIABLE = "TELECARE_BENCH_PATIENTS"
DEFAULT_PATIENTS = 10_000
OPEN_ALERTS = 500
DEFAULT_DAYS = 30
DEFAULT_REQUESTS = 400
# Requests in flight: one clinician at a time, then a busy ward's worth at once.
CONCURRENCY = (1, 4, 8)
POINTS_VARIABLE = "TELECARE_BENCH_CHART_POINTS"
DEFAULT_POINTS = 1000
PAGE = 50
WARMUP = 20
SECRET = "telecare-benchmark-secret-0123456789abcdef"
START_TIMEOUT_S = 60.0
# Recent readings per patient and kind (latest values for the triage list).
RECENT_READINGS = 4
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Latencies:
    """Milliseconds per request (or query)."""

    samples: tuple[float, ...]
    # Wall-clock seconds the samples took in all (0 for one-at-a-time floors).
    elapsed_s: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    path: str
    params: dict[str, str]
    target_ms: float


def run(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    with database(env) as server:
        return _measure(env, server.url, server_description=server.description)


def _measure(env: Mapping[str, str], admin_url: str, *, server_description: str) -> str:
    days = int(env.get(DAYS_VARIABLE, DEFAULT_DAYS))
    requests = int(env.get(REQUESTS_VARIABLE, DEFAULT_REQUESTS))
    patients = int(env.get(PATIENTS_VARIABLE, DEFAULT_PATIENTS))
    points = int(env.get(POINTS_VARIABLE, DEFAULT_POINTS))
    with scratch_database(admin_url) as url:
        migrate(url)
        started = time.perf_counter()
        ids = _seed(url, days=days, patients=patients)
        seed_s = time.perf_counter() - started
        since = NOW - timedelta(days=days)
        scenarios = (
            Scenario(
                name="triage list", path="/patients", params={"limit": str(PAGE)}, target_ms=100
            ),
            Scenario(
                name=f"{days}-day SpO2 chart",
                path=f"/patients/{ids['oximetry_patient']}/readings/series",
                params={
                    "kind": "spo2",
                    "since": since.isoformat(),
                    "until": NOW.isoformat(),
                    "points": str(points),
                },
                target_ms=150,
            ),
        )
        source = _aggregate_source(url)
        patient = ids["oximetry_patient"]
        floors = {
            "triage list": _floor(url, lambda conn: _triage_sql(conn, ids["clinician"])),
            f"{days}-day SpO2 chart": _floor(
                url,
                lambda conn: _chart_sql(conn, patient, since=since, points=points, source=source),
            ),
        }
        raw_chart = _floor(
            url,
            lambda conn: _chart_sql(conn, patient, since=since, points=points, source=None),
            count=5,
        )
        with _server(url) as base:
            token = _token(ids)
            measured = {
                (s.name, c): asyncio.run(_load(base, s, token, requests, concurrency=c))
                for s in scenarios
                for c in CONCURRENCY
            }
    return _table(
        scenarios,
        measured,
        floors,
        raw_chart,
        days=days,
        patients=patients,
        seed_s=seed_s,
        source=source,
        server=server_description,
    )


def _seed(url: str, *, days: int, patients: int) -> dict[str, int]:
    with connect(url, autocommit=True) as conn:
        org = _one(
            conn, "INSERT INTO organizations (kind, name) VALUES ('region', 'Bench') RETURNING id"
        )
        team = _one(
            conn,
            "INSERT INTO care_teams (organization_id, name) VALUES (%s, 'Ward') RETURNING id",
            (org,),
        )
        clinician = _one(
            conn,
            """INSERT INTO users (organization_id, username, display_name, role, password_hash)
            VALUES (%s, 'bench', 'Bench Clinician', 'clinician', 'x') RETURNING id""",
            (org,),
        )
        conn.execute("INSERT INTO care_team_members VALUES (%s, %s)", (team, clinician))
        conn.execute(
            "INSERT INTO patients (organization_id) SELECT %s FROM generate_series(1, %s)",
            (org, patients),
        )
        conn.execute(
            """INSERT INTO patient_identity (patient_id, name)
            SELECT id, 'Patient ' || id FROM patients""",
        )
        conn.execute(
            "INSERT INTO care_team_patients (care_team_id, patient_id) SELECT %s, id FROM patients",
            (team,),
        )
        conn.execute(
            """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
                                     gateway_id, received_at, batch_id)
            SELECT %(now)s - make_interval(hours => 12 * n::int), 'cuff-' || p.id, k.kind,
                   k.base + (p.id + n) %% 7, k.unit, p.id, 'gw-bench', %(now)s,
                   '00000000-0000-4000-8000-000000000000'
            FROM patients p CROSS JOIN generate_series(0, %(recent)s - 1) AS n
            CROSS JOIN (VALUES ('systolic', 'mm[Hg]', 130), ('diastolic', 'mm[Hg]', 80),
                               ('pulse_rate', '/min', 70), ('spo2', '%%', 93))
                       AS k (kind, unit, base)""",
            {"now": NOW, "recent": RECENT_READINGS},
        )
        conn.execute(
            """INSERT INTO alerts (organization_id, audience, condition, patient_id, kind,
                                   severity, first_at, last_at, worst_value)
            SELECT %(org)s, 'clinical', 'spo2_low', p.id, 'spo2',
                   (ARRAY['red', 'yellow', 'blue'])[1 + p.id %% 3],
                   %(now)s - make_interval(mins => p.id::int), %(now)s, 85
            FROM (SELECT id FROM patients ORDER BY id DESC LIMIT %(alerts)s) AS p""",
            {"org": org, "now": NOW, "alerts": OPEN_ALERTS},
        )
        oximetry_patient = _one(conn, "SELECT min(id) FROM patients")
        conn.execute(
            """INSERT INTO readings (measured_at, device_id, kind, value, unit, patient_id,
                                     gateway_id, received_at, batch_id, continuous)
            SELECT t, 'oximeter', k.kind, k.base + (extract(epoch FROM t)::bigint %% 5), k.unit,
                   %(patient)s, 'gw-bench', t, '00000000-0000-4000-8000-000000000001', true
            FROM generate_series(%(now)s - make_interval(days => %(days)s), %(now)s,
                                 interval '1 second') AS t
            CROSS JOIN (VALUES ('spo2', '%%', 92), ('pulse_rate', '/min', 66),
                               ('perfusion_index', '%%', 2)) AS k (kind, unit, base)""",
            {"patient": oximetry_patient, "now": NOW, "days": days},
        )
        conn.execute("VACUUM ANALYZE")
    return {"clinician": clinician, "organization": org, "oximetry_patient": oximetry_patient}


def _one(conn: Connection, sql: str, params: tuple[object, ...] | None = None) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def _token(ids: Mapping[str, int]) -> str:
    principal = Principal(
        user_id=ids["clinician"],
        username="bench",
        display_name="Bench Clinician",
        role=Role.CLINICIAN,
        organization_id=ids["organization"],
    )
    return issue_access_token(
        principal, secret=SECRET, issuer="telecare", now=datetime.now(UTC), ttl=timedelta(hours=1)
    )


def _triage_sql(conn: Connection, clinician: int) -> None:
    rows = conn.execute(
        TRIAGE_SQL.format(scope=CARE_TEAM_PATIENTS),
        {
            "limit": PAGE,
            "offset": 0,
            "scope_user": clinician,
            "scope_patient": None,
            "scope_org": None,
        },
    ).fetchall()
    patients = [row[0] for row in rows]
    kinds = [k.value for k in CLINICAL_KINDS]
    conn.execute(LATEST_SQL, {"patients": patients, "kinds": kinds}).fetchall()
    conn.execute(UNREVIEWED_SQL, {"patients": patients, "kinds": REVIEWED_KINDS}).fetchall()


def _chart_sql(
    conn: Connection,
    patient: int,
    *,
    since: datetime,
    points: int,
    source: SeriesSource | None,
) -> None:
    query = series_query(
        patient, kind=Kind.SPO2, since=since, until=NOW, points=points, aggregate=source
    )
    conn.execute(query.sql, query.params).fetchall()


def _floor(url: str, query: Callable[[Connection], None], *, count: int = 60) -> Latencies:
    with connect(url, autocommit=True) as conn:
        for _ in range(3):
            query(conn)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            query(conn)
            samples.append((time.perf_counter() - started) * 1000)
    return Latencies(samples=tuple(samples))


async def _load(
    base: str, scenario: Scenario, token: str, requests: int, *, concurrency: int
) -> Latencies:
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[float] = []
    limits = httpx2.Limits(max_connections=concurrency)
    async with httpx2.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:

        async def one(record: bool) -> None:
            started = time.perf_counter()
            response = await client.get(scenario.path, params=scenario.params)
            response.raise_for_status()
            if record:
                samples.append((time.perf_counter() - started) * 1000)

        for _ in range(WARMUP):
            await one(False)
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(requests):
            queue.put_nowait(None)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                await one(True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Latencies(samples=tuple(samples), elapsed_s=elapsed)


@contextmanager
def _server(url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "TELECARE_DATABASE_URL": url,
        "TELECARE_API_SECRET": SECRET,
        "TELECARE_API_PORT": str(port),
    }
    server = subprocess.Popen([sys.executable, "-m", "telecare.commands.api"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx2.get(f"{base}/health", timeout=2).raise_for_status()
                break
            except httpx2.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("telecare api did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def _aggregate_source(url: str) -> SeriesSource | None:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_regclass('readings_15m') IS NOT NULL, "
            "to_regclass('reading_rollups_15m') IS NOT NULL"
        ).fetchone()
    assert row is not None
    if row[0]:
        return SeriesSource.AGGREGATE
    return SeriesSource.ROLLUP if row[1] else None


def _table(
    scenarios: tuple[Scenario, ...],
    measured: Mapping[tuple[str, int], Latencies],
    floors: Mapping[str, Latencies],
    raw_chart: Latencies,
    *,
    days: int,
    patients: int,
    seed_s: float,
    source: SeriesSource | None,
    server: str,
) -> str:
    store = {
        SeriesSource.AGGREGATE: "TimescaleDB, charts from the continuous aggregate",
        SeriesSource.ROLLUP: "plain PostgreSQL, charts from reading_rollups_15m",
        None: "plain PostgreSQL, charts from raw rows",
    }[source]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; "
        f"{server}; {store}; {patients:,} patients, {OPEN_ALERTS} open alerts, {days} days of 1 Hz "
        f"oximetry ({days * 86_400 * 3:,} readings) for one patient, seeded in {seed_s:.0f} s; "
        f"one uvicorn process; load generator, server and database share the machine.",
        "",
        "| request | in flight | p50 ms | p95 ms | p99 ms | req/s | target p95 "
        "| floor: SQL alone p50 / p95 ms | p95 ratio to floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        floor = floors[scenario.name]
        for concurrency in CONCURRENCY:
            load = measured[(scenario.name, concurrency)]
            p95 = load.percentile(95)
            met = "met" if p95 < scenario.target_ms else "missed"
            lines.append(
                f"| {scenario.name} | {concurrency} | {load.percentile(50):.1f} | {p95:.1f} "
                f"| {load.percentile(99):.1f} | {load.per_second:.0f} "
                f"| {scenario.target_ms:.0f} ({met}) "
                f"| {statistics.median(floor.samples):.1f} / {floor.percentile(95):.1f} "
                f"| {p95 / floor.percentile(95):.1f}x |"
            )
    lines += [
        "",
        f"For comparison, the same chart aggregated from the raw readings takes "
        f"{statistics.median(raw_chart.samples):.0f} ms of SQL alone (median of "
        f"{len(raw_chart.samples)}).",
    ]
    return "\n".join(lines)
