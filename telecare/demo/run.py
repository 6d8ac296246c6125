"""The demo's order of things: broker, database, migrate, seed, services, wait, stop.

Embedded servers are the machine's own Mosquitto and PostgreSQL when installed, else
amqtt and pgserver's binaries (telecare.embedded.selection), kept in the data directory
so a second run finds its data; a URL given for either replaces the embedded one.
SIGTERM and Ctrl-C stop everything started here, in reverse order, and ``run`` returns;
a child that dies on its own stops the demo too (exit code 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pwd
import signal
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from devices.reading import Kind
from ingest.db import connect
from ingest.migrate import migrate
from ingest.program import PROGRAM_SCHEDULES, Program
from telecare.commands.gateway import HOUSEHOLD_SEPARATOR
from telecare.demo import credentials as credentials_module
from telecare.demo.credentials import Credentials
from telecare.demo.plan import (
    GATEWAYS,
    HISTORY,
    ORGANIZATION_NAMES,
    USERS,
    GatewayPlan,
    household_count,
    running_gateways,
)
from telecare.demo.seed import seed, started_at, usernames
from telecare.demo.services import Service, Services
from telecare.embedded.amqtt_broker import AmqttBroker
from telecare.embedded.broker import BrokerConfig, Mosquitto
from telecare.embedded.port import free_port
from telecare.embedded.postgres import SERVER_USER, PostgresCluster
from telecare.embedded.selection import BrokerKind, choose_broker, choose_postgres

DATABASE_NAME = "telecare"
# Where a root-run demo keeps its cluster when the postgres user cannot reach the data
# directory (a home directory is mode 0700): one subdirectory per data directory.
ROOT_CLUSTER_BASE = Path("/var/lib/telecare-demo")
# How long the api may take to answer /health, and how often it is asked.
API_START_TIMEOUT = 60.0
# Where the api listens when that port is free (the README's links); else any free one.
DEFAULT_API_PORT = 8000
POLL_INTERVAL = 0.25
# Stop order (services.py): gateways, then the api, then ingest.
INGEST_STAGE, API_STAGE, GATEWAY_STAGE = 0, 1, 2
# The ingest client id: stable, so the broker keeps its session between runs.
INGEST_CLIENT_ID = "telecare-demo-ingest"
# Ticks of the watchdog (missed measurements, technical alerts) in the demo: seconds, so
# blue alerts show within the first minutes (production default 30 s, alert_settings.py).
WATCHDOG_INTERVAL = "5"
# The devices' history per kind a schedule names (telecare gateway run --history-...),
# and when a patient measures a kind the program does not schedule: once, in the morning.
HISTORY_KINDS = {"--history-blood-pressure": Kind.SYSTOLIC, "--history-spot-checks": Kind.SPO2}
MORNING = (dt.time(8, 0),)
# amqtt speaks only MQTT 3.1.1: the gateways, ingest and the api are told so (their settings).
AMQTT_CLIENT_ENV = {"TELECARE_MQTT_PROTOCOL": "3.1.1"}
EXIT_OK = 0
EXIT_FAILED = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    data_dir: Path
    database_url: str | None = None
    mqtt_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int | None = None
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")


class Stopped(Exception):
    """SIGTERM (or SIGINT) arrived."""


def run(options: DemoOptions, *, out: TextIO) -> int:
    """Run the demo until a signal; the exit code."""
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in _STOP_SIGNALS}
    code = EXIT_OK
    try:
        options.data_dir.mkdir(parents=True, exist_ok=True)
        services = Services(options.data_dir)
        # The servers stop last: their callbacks run after the finally below.
        with ExitStack() as servers:
            try:
                code = _run(options, services=services, servers=servers, out=out)
            except Stopped:
                pass
            finally:
                # Stopping must not be cut short by a second Ctrl-C.
                for signum in _STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_IGN)
                print("stopping ...", file=out, flush=True)
                services.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("stopped", file=out, flush=True)
    return code


def _run(options: DemoOptions, *, services: Services, servers: ExitStack, out: TextIO) -> int:
    step = partial(_step, out)
    mqtt_url = options.mqtt_url
    mqtt_env: dict[str, str] = {}
    if mqtt_url is None:
        kind = choose_broker(os.environ)
        with step(f"starting {kind} (embedded MQTT broker)"):
            broker = _broker(kind, options.data_dir)
            servers.callback(broker.stop)  # also when it fails to start in time
            broker.start()
            services.adopt(kind.value, broker.pid)
            mqtt_url = broker.url
        if kind is BrokerKind.AMQTT:
            mqtt_env = AMQTT_CLIENT_ENV
    database_url = options.database_url
    if database_url is None:
        postgres_kind, bindir = choose_postgres(os.environ)
        with step(f"starting PostgreSQL ({postgres_kind})"):
            cluster = _cluster(options.data_dir, bindir=bindir)
            if not cluster.initialized:
                cluster.init()
            elif cluster.is_running():  # left behind by a demo that was killed
                cluster.stop()
            servers.callback(_stop_cluster, cluster)
            cluster.start()
            services.adopt("postgres", _postmaster_pid(cluster))
            database_url = _ensure_database(cluster)
    services.note_url("mqtt", _without_password(mqtt_url))
    services.note_url("database", _without_password(database_url))
    with step("migrating the database"):
        migrate(database_url)
    credentials = credentials_module.load_or_create(options.data_dir, usernames=usernames())
    with step(f"seeding organizations, users, {household_count()} patients and their devices"):
        with connect(database_url) as conn:
            seeded = seed(conn, credentials)
            history_until = started_at(conn)
        if not seeded:
            print("  (already seeded: reusing the data)", end="", file=out)
    api_port = options.api_port or free_port(preferred=DEFAULT_API_PORT)
    api_url = f"http://{options.api_host}:{api_port}"
    services.note_url("api", api_url)
    with step("starting ingest"):
        services.start(_ingest(database_url=database_url, mqtt_url=mqtt_url, mqtt_env=mqtt_env))
    with step(f"starting the api on {api_url}"):
        services.start(
            _api(
                database_url=database_url,
                mqtt_url=mqtt_url,
                mqtt_env=mqtt_env,
                host=options.api_host,
                port=api_port,
                secret=credentials.api_secret,
            )
        )
        _wait_for_api(api_url, services=services)
    with step(f"starting {len(running_gateways())} simulated gateways"):
        for gateway in running_gateways():
            services.start(
                _gateway(
                    gateway,
                    mqtt_url=mqtt_url,
                    mqtt_env=mqtt_env,
                    options=options,
                    history_until=history_until,
                )
            )
    _banner(
        out,
        api_url=api_url,
        database_url=database_url,
        mqtt_url=mqtt_url,
        credentials=credentials,
        data_dir=options.data_dir,
    )
    while True:
        exited = services.exited()
        if exited:
            names = ", ".join(f"{name} (exit code {code})" for name, code in exited.items())
            print(f"error: {names} stopped; see {services.log_dir}", file=out, flush=True)
            return EXIT_FAILED
        time.sleep(POLL_INTERVAL)


def _broker(kind: BrokerKind, data_dir: Path) -> Mosquitto | AmqttBroker:
    if kind is BrokerKind.AMQTT:
        return AmqttBroker(data_dir / "amqtt", port=free_port(), detached=True)
    return Mosquitto(data_dir / "mosquitto", port=free_port(), config=BrokerConfig(), detached=True)


def _ingest(*, database_url: str, mqtt_url: str, mqtt_env: dict[str, str]) -> Service:
    return Service(
        name="ingest",
        argv=("ingest",),
        stage=INGEST_STAGE,
        env={
            "TELECARE_DATABASE_URL": database_url,
            "TELECARE_MQTT_URL": mqtt_url,
            "TELECARE_MQTT_CLIENT_ID": INGEST_CLIENT_ID,
            "TELECARE_ALERT_WATCHDOG_INTERVAL": WATCHDOG_INTERVAL,
            **mqtt_env,
        },
    )


def _api(
    *,
    database_url: str,
    mqtt_url: str,
    mqtt_env: dict[str, str],
    host: str,
    port: int,
    secret: str,
) -> Service:
    return Service(
        name="api",
        argv=("api",),
        stage=API_STAGE,
        env={
            "TELECARE_DATABASE_URL": database_url,
            "TELECARE_MQTT_URL": mqtt_url,
            "TELECARE_API_SECRET": secret,
            "TELECARE_API_HOST": host,
            "TELECARE_API_PORT": str(port),
            **mqtt_env,
        },
    )


def _gateway(
    gateway: GatewayPlan,
    *,
    mqtt_url: str,
    mqtt_env: dict[str, str],
    options: DemoOptions,
    history_until: dt.datetime | None,
) -> Service:
    households = [
        f"--household={HOUSEHOLD_SEPARATOR.join(scenario.value for scenario in scenarios)}"
        for scenarios in gateway.households
    ]
    return Service(
        name=gateway.gateway_id,
        stage=GATEWAY_STAGE,
        argv=(
            "gateway",
            "run",
            "--simulate",
            *households,
            f"--seed={gateway.seed}",
            f"--speed={options.speed}",
            *_history(gateway.program, until=history_until),
        ),
        env={
            "TELECARE_GATEWAY_ID": gateway.gateway_id,
            "TELECARE_GATEWAY_STATE_DIR": str(options.data_dir / "gateways" / gateway.gateway_id),
            "TELECARE_MQTT_URL": mqtt_url,
            **mqtt_env,
        },
    )


def _history(program: Program, *, until: dt.datetime | None) -> list[str]:
    """Arguments for the devices' stored history: ``HISTORY`` days up to ``until``, at
    the program's scheduled times (once a morning for a kind it does not schedule)."""
    times: dict[Kind, tuple[dt.time, ...]] = dict.fromkeys(HISTORY_KINDS.values(), MORNING)
    for kind, scheduled in PROGRAM_SCHEDULES[program]:
        times[kind] = scheduled
    arguments = [f"--history-days={HISTORY.days}"]
    for option, kind in HISTORY_KINDS.items():
        arguments.append(f"{option}={','.join(t.strftime('%H:%M') for t in times[kind])}")
    if until is not None:
        arguments.append(f"--history-until={until.isoformat()}")
    return arguments


def _cluster(data_dir: Path, *, bindir: Path) -> PostgresCluster:
    """The demo's cluster, in the data directory when the server's user can reach it."""
    base_dir = data_dir / "postgres"
    if os.geteuid() == 0 and not _reachable_by(SERVER_USER, data_dir):
        digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
        base_dir = ROOT_CLUSTER_BASE / digest
    return PostgresCluster(bindir=bindir, base_dir=base_dir)


def _reachable_by(username: str, directory: Path) -> bool:
    """Whether ``username`` may enter every directory on the way to ``directory``."""
    try:
        uid = pwd.getpwnam(username).pw_uid
    except KeyError:
        return False
    for part in (directory.resolve(), *directory.resolve().parents):
        mode = part.stat()
        if mode.st_uid != uid and not mode.st_mode & stat.S_IXOTH:
            return False
    return True


def _ensure_database(cluster: PostgresCluster) -> str:
    with connect(cluster.url(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return cluster.url(DATABASE_NAME)


def _postmaster_pid(cluster: PostgresCluster) -> int | None:
    """The server's pid, from the first line of postmaster.pid (PostgreSQL docs 19.2)."""
    try:
        return int((cluster.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _stop_cluster(cluster: PostgresCluster) -> None:
    if cluster.is_running():
        cluster.stop()


def _wait_for_api(url: str, *, services: Services) -> None:
    deadline = time.monotonic() + API_START_TIMEOUT
    while time.monotonic() < deadline:
        if not services.running("api"):
            raise RuntimeError(f"the api exited at start; see {services.log_dir / 'api.log'}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"the api did not answer within {API_START_TIMEOUT:.0f} s")


def _banner(
    out: TextIO,
    *,
    api_url: str,
    database_url: str,
    mqtt_url: str,
    credentials: Credentials,
    data_dir: Path,
) -> None:
    organizations = {org: name for org, (_, name) in ORGANIZATION_NAMES.items()}
    roles = {user.username: (user.role.value, organizations[user.organization]) for user in USERS}
    patient_org = organizations[GATEWAYS[0].organization]
    lines = [
        "",
        "telecare demo is running",
        f"  web        {api_url}/web/sign-in",
        f"  api        {api_url}   (OpenAPI: {api_url}/docs, sign in: POST /auth/token)",
        "  logins     user / password (role, organization)",
    ]
    for username in usernames():
        role, organization = roles.get(username, ("patient", patient_org))
        password = credentials.passwords[username]
        lines.append(f"    {username:<20} {password:<18} ({role}, {organization})")
    lines += [
        f"  database   {_without_password(database_url)}",
        f"  broker     {_without_password(mqtt_url)}",
        f"  data       {data_dir} (logs in {data_dir / 'logs'})",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), file=out, flush=True)


def _without_password(url: str) -> str:
    """``url`` with any password replaced (it may be a real service's)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@contextmanager
def _step(out: TextIO, label: str) -> Iterator[None]:
    """Progress: "label ... done (0.4 s)" on one line."""
    print(f"{label} ...", end="", file=out, flush=True)
    began = time.monotonic()
    try:
        yield
    except BaseException:
        print(" failed", file=out, flush=True)
        raise
    print(f" done ({time.monotonic() - began:.1f} s)", file=out, flush=True)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)
