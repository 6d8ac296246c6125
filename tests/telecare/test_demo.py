"""``telecare demo`` end to end: a subprocess on free ports with its own data directory.

The demo runs the machine's Mosquitto and PostgreSQL, ingest, the api and the simulated
gateways; the test reads the demo's pid file (pids and URLs) and credentials file, asks
the api and the database, stops the demo with SIGTERM and checks that every process it
listed is gone. A second start must find the data and seed nothing. Another run forces
the fallbacks of a machine with neither (telecare.embedded.selection): amqtt, which
speaks MQTT 3.1.1 only, and the PostgreSQL binaries of the pgserver wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from telecare.demo.plan import (
    GATEWAYS,
    PATIENT_NAMES,
    Org,
    household_count,
    running_gateways,
)
from telecare.demo.services import PID_FILE
from telecare.embedded.selection import BROKER_VARIABLE, POSTGRES_VARIABLE, pgserver_bindir
from tests.fixtures.mosquitto import free_port

# Bounds: start (initdb, migrate, seed, api up) and the first cuff measurement, 20
# simulated seconds in (gateway/simulate.py DEMO_SCHEDULE), with its red alert. The test
# plays the households at SPEED times real time so that comes within seconds; stopping
# takes seconds.
SPEED = 3
START_TIMEOUT = 60.0
ALERT_TIMEOUT = 45.0
STOP_TIMEOUT = 30.0
POLL = 0.25
RUNNING = "telecare demo is running"


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Demo:
    def __init__(
        self,
        data_dir: Path,
        *,
        api_port: int,
        speed: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.api_port = api_port
        self.speed = speed
        self.env = env or {}
        self.output = data_dir.parent / f"{data_dir.name}.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("TELECARE_")
        }
        env.update(self.env)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "telecare.cli",
                    "demo",
                    f"--data-dir={self.data_dir}",
                    f"--api-port={self.api_port}",
                    f"--speed={self.speed}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_running(self) -> dict[str, Any]:
        """The pid file, once the demo says it is running."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while RUNNING not in self.text():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(POLL)
        state: dict[str, Any] = json.loads((self.data_dir / PID_FILE).read_text())
        return state

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def demo_dir() -> Iterator[Path]:
    # In the system temp directory rather than pytest's tmp_path (0700 under 0700): as root
    # the demo's PostgreSQL runs as the postgres user, which must reach the directory.
    parent = Path(tempfile.mkdtemp(prefix="telecare-demo-test-"))
    parent.chmod(0o755)
    try:
        yield parent / "data"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _token(api_url: str, username: str, password: str) -> str:
    body = urllib.parse.urlencode(
        {"grant_type": "password", "username": username, "password": password}
    ).encode()
    with urllib.request.urlopen(f"{api_url}/auth/token", data=body, timeout=10) as response:
        token: str = json.load(response)["access_token"]
        return token


def _households_with_readings(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(DISTINCT patient_id) FROM readings").fetchone()
    assert row is not None
    return int(row[0])


def _red_alerts(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM alerts WHERE audience = 'clinical' AND severity = 'red'"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _patients(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM patients").fetchone()
    assert row is not None
    return int(row[0])


def _wait_for_every_household_and_a_red_alert(database_url: str) -> None:
    simulated = sum(gateway.households for gateway in running_gateways())
    deadline = time.monotonic() + ALERT_TIMEOUT
    with psycopg.connect(database_url, autocommit=True) as conn:
        while (_households_with_readings(conn), _red_alerts(conn) > 0) != (simulated, True):
            assert time.monotonic() < deadline, (
                f"{_households_with_readings(conn)} of {simulated} households stored, "
                f"{_red_alerts(conn)} red alerts"
            )
            time.sleep(POLL)


def _push_config(api_url: str, token: str, gateway_id: str) -> int:
    """PUT an empty device allowlist as the gateway's config; the HTTP status."""
    request = urllib.request.Request(
        f"{api_url}/fleet/gateways/{gateway_id}/config",
        data=json.dumps({"devices": []}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="PUT",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status: int = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status


def test_the_plan_names_a_patient_per_household() -> None:
    assert len(PATIENT_NAMES) == household_count() == 20
    assert len({gateway.gateway_id for gateway in GATEWAYS}) == len(GATEWAYS)
    assert any(not gateway.runs for gateway in GATEWAYS)  # the away household: blue alerts


def test_demo_runs_the_platform_stops_cleanly_and_reuses_its_data(demo_dir: Path) -> None:
    demo = Demo(demo_dir, api_port=free_port(), speed=SPEED)
    demo.start()
    try:
        state = demo.wait_running()
        urls = state["urls"]
        assert urls["api"] == f"http://127.0.0.1:{demo.api_port}"
        credentials = json.loads((demo_dir / "credentials.json").read_text())
        password = credentials["passwords"]["clinician"]
        assert password in demo.text()  # the login is printed
        assert _token(urls["api"], "clinician", password)

        _wait_for_every_household_and_a_red_alert(urls["database"])
        pids: dict[str, int] = dict(state["processes"])
        expected = {"mosquitto", "postgres", "ingest", "api"}
        expected |= {gateway.gateway_id for gateway in running_gateways()}
        assert set(pids) == expected
        assert all(_alive(pid) for pid in pids.values())

        assert demo.stop() == 0
        assert [name for name, pid in pids.items() if _alive(pid)] == []
        assert not (demo_dir / PID_FILE).exists()
        assert "stopped" in demo.text()
    finally:
        demo.kill()

    again = Demo(demo_dir, api_port=free_port())
    again.start()
    try:
        state = again.wait_running()
        assert "already seeded" in again.text()
        with psycopg.connect(state["urls"]["database"], autocommit=True) as conn:
            assert _patients(conn) == household_count()
        assert again.stop() == 0
        assert [pid for pid in state["processes"].values() if _alive(pid)] == []
    finally:
        again.kill()


def test_demo_runs_on_amqtt_and_pgserver_when_the_machine_has_neither(demo_dir: Path) -> None:
    fallbacks = {BROKER_VARIABLE: "amqtt", POSTGRES_VARIABLE: "pgserver"}
    demo = Demo(demo_dir, api_port=free_port(), speed=SPEED, env=fallbacks)
    demo.start()
    try:
        state = demo.wait_running()
        assert "starting amqtt (embedded MQTT broker) ... done" in demo.text()
        assert "starting PostgreSQL (pgserver) ... done" in demo.text()
        urls = state["urls"]
        pids: dict[str, int] = dict(state["processes"])
        bindir = pgserver_bindir()
        assert bindir is not None
        assert Path(f"/proc/{pids['postgres']}/exe").resolve().parent == bindir.resolve()
        passwords = json.loads((demo_dir / "credentials.json").read_text())["passwords"]
        assert _token(urls["api"], "clinician", passwords["clinician"])

        _wait_for_every_household_and_a_red_alert(urls["database"])
        # The api speaks MQTT 3.1.1 to amqtt too (the demo passes TELECARE_MQTT_PROTOCOL).
        gateway = next(g for g in running_gateways() if g.organization is Org.MUNICIPALITY)
        fleet = _token(urls["api"], "fleet", passwords["fleet"])
        assert _push_config(urls["api"], fleet, gateway.gateway_id) == 200

        expected = {"amqtt", "postgres", "ingest", "api"}
        expected |= {gateway.gateway_id for gateway in running_gateways()}
        assert set(pids) == expected
        assert all(_alive(pid) for pid in pids.values())
        assert demo.stop() == 0
        assert [name for name, pid in pids.items() if _alive(pid)] == []
        assert not (demo_dir / PID_FILE).exists()
    finally:
        demo.kill()
