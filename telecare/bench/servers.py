"""The servers a benchmark measures against: the configured ones, or private ones.

Every benchmark runs with nothing configured. ``TELECARE_DATABASE_URL`` (a role that may
create databases: each run works in a scratch database it creates and drops) and
``TELECARE_MQTT_URL`` (a broker whose ``max_queued_messages`` is raised, as deploy/ and
the embedded config do) point a benchmark at servers of one's own; for each one not set,
a private server is started on a loopback port and removed afterwards:

- PostgreSQL: a cluster of the machine's initdb/pg_ctl (telecare.embedded.postgres) with
  fsync, full_page_writes and synchronous_commit on, so a commit costs what it costs on a
  production server (the test clusters run with fsync off);
- Mosquitto: telecare.embedded.broker with its default config.

``start_ingest`` runs ``python -m ingest`` against them, as the ingest and alerts
benchmarks measure it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ingest.db import connect
from ingest.settings import DATABASE_URL, MQTT_URL
from telecare.embedded.broker import BrokerConfig, Mosquitto
from telecare.embedded.port import free_port
from telecare.embedded.postgres import start_cluster

# The private cluster's settings over telecare.embedded's test defaults (fsync off):
# the durability a production server has, so a commit costs what it costs there.
DURABLE_SERVER = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
# Bound on an ingest process's start (imports, connecting, subscribing).
INGEST_START_TIMEOUT = 30.0
# ingest logs this once it consumes (ingest/service.py).
INGEST_STARTED = "event=started"


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """Where one server is, and how to name it under a benchmark's table."""

    url: str
    description: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Servers:
    """The database and broker measured against, and how to name them in the table."""

    admin_url: str
    mqtt_url: str
    description: str


@contextmanager
def database(env: Mapping[str, str]) -> Iterator[Server]:
    """``TELECARE_DATABASE_URL`` if set, else a private durable PostgreSQL cluster."""
    url = env.get(DATABASE_URL)
    if url:
        yield Server(url=url, description=f"PostgreSQL from {DATABASE_URL}")
        return
    cluster = start_cluster(DURABLE_SERVER)
    try:
        with connect(cluster.url(), autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        # server_version reads "15.18 (Debian 15.18-0+deb12u1)": the number is enough.
        version = "" if row is None else f" {str(row[0]).split()[0]}"
        yield Server(url=cluster.url(), description=f"a private PostgreSQL{version} (fsync on)")
    finally:
        cluster.destroy()


@contextmanager
def broker(env: Mapping[str, str]) -> Iterator[Server]:
    """``TELECARE_MQTT_URL`` if set, else a private Mosquitto."""
    url = env.get(MQTT_URL)
    if url:
        yield Server(url=url, description=f"the broker from {MQTT_URL}")
        return
    with tempfile.TemporaryDirectory(prefix="telecare-bench-mosquitto-") as scratch:
        mosquitto = Mosquitto(Path(scratch), port=free_port(), config=BrokerConfig())
        mosquitto.start()
        try:
            yield Server(url=mosquitto.url, description="a private Mosquitto")
        finally:
            mosquitto.stop()


@contextmanager
def servers(env: Mapping[str, str]) -> Iterator[Servers]:
    """Both: the database and the broker, configured or private."""
    with database(env) as db, broker(env) as mqtt:
        yield Servers(
            admin_url=db.url,
            mqtt_url=mqtt.url,
            description=f"{db.description} and {mqtt.description}",
        )


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A database of its own on the server of ``admin_url``, dropped afterwards."""
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


def start_ingest(env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m ingest`` with ``env``, its output in ``log_path``, once it consumes."""
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ingest"], env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + INGEST_START_TIMEOUT
    while INGEST_STARTED not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            worker.wait()
            raise RuntimeError(f"ingest did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    return worker
