"""``telecare demo`` end to end: a subprocess on free ports with its own data directory.

The demo runs the machine's Mosquitto and PostgreSQL, ingest, the api and the simulated
gateways; the test reads the demo's pid file (pids and URLs) and credentials file, asks
the api and the database, stops the demo with SIGTERM and checks that every process it
listed is gone. A second start must find the data and seed nothing. Another run forces
the fallbacks of a machine with neither (telecare.embedded.selection): amqtt, which
speaks MQTT 3.1.1 only, and the PostgreSQL binaries of the pgserver wheel.
"""

from __future__ import annotations

import contextlib
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
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devices.simulator import Scenario
from telecare.demo.plan import (
    GATEWAYS,
    HISTORY,
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
                # Its own process group, so a failed test can kill what it started too.
                start_new_session=True,
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
        """After a failure: the demo and every process it started, at once."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
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
    simulated = sum(len(gateway.households) for gateway in running_gateways())
    deadline = time.monotonic() + ALERT_TIMEOUT
    with psycopg.connect(database_url, autocommit=True) as conn:
        while (_households_with_readings(conn), _red_alerts(conn) > 0) != (simulated, True):
            assert time.monotonic() < deadline, (
                f"{_households_with_readings(conn)} of {simulated} households stored, "
                f"{_red_alerts(conn)} red alerts"
            )
            time.sleep(POLL)


def _started_at(conn: psycopg.Connection[Any]) -> datetime:
    """When the demo seeded its world: its schedules are watched from then."""
    row = conn.execute("SELECT min(active_from) FROM measurement_schedules").fetchone()
    assert row is not None
    started: datetime = row[0]
    return started


def _days_of_history(conn: psycopg.Connection[Any], before: datetime) -> dict[int, int]:
    """Per patient: on how many days of the history the cuff and the oximeter measured."""
    rows = conn.execute(
        """SELECT patient_id, count(DISTINCT date_trunc('day', measured_at))
        FROM readings WHERE NOT continuous AND measured_at < %s GROUP BY 1""",
        (before,),
    ).fetchall()
    return dict(rows)


def _wait_for_every_household_download(database_url: str, after: datetime) -> None:
    """Until every running household's cuff and oximeter delivered a measurement taken
    after ``after``: the first connection and download, which bring the history too."""
    simulated = sum(len(gateway.households) for gateway in running_gateways())
    deadline = time.monotonic() + ALERT_TIMEOUT
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            downloaded = _count(
                conn,
                """SELECT count(*) FROM (SELECT patient_id FROM readings
                WHERE NOT continuous AND kind IN ('systolic', 'spo2') AND measured_at > %s
                GROUP BY patient_id HAVING count(DISTINCT kind) = 2) AS downloaded""",
                after,
            )
            if downloaded == simulated:
                return
            assert time.monotonic() < deadline, f"{downloaded} of {simulated} downloaded"
            time.sleep(POLL)


def _count(conn: psycopg.Connection[Any], sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


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


def test_most_households_are_well_and_a_few_are_not() -> None:
    # As in real home monitoring: a worklist mostly green, with red, yellow and blue.
    well = {Scenario.NORMAL, Scenario.MOTION_ARTEFACT}
    households = [scenarios for gateway in running_gateways() for scenarios in gateway.households]
    assert sum(set(scenarios) <= well for scenarios in households) > household_count() / 2
    unwell = Counter(s for scenarios in households for s in scenarios if s not in well)
    assert unwell.keys() == {
        Scenario.HYPERTENSIVE_CRISIS,  # red
        Scenario.DESATURATION,  # red
        Scenario.HYPOTENSION,  # red
        Scenario.ELEVATED_PRESSURE,  # yellow in the hypertension program
    }
    assert all(count <= 3 for count in unwell.values())


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
        # Two weeks of measurements came from the devices' memory; in range before the
        # acute events, which began at the start: no red alert is about the history.
        with psycopg.connect(urls["database"], autocommit=True) as conn:
            started = _started_at(conn)
        _wait_for_every_household_download(urls["database"], started)
        with psycopg.connect(urls["database"], autocommit=True) as conn:
            days = _days_of_history(conn, started)
            # A routine time falls 13 to 15 times into 14 days (patients measure a little
            # later some days, devices/simulator/history.py).
            assert len(days) == sum(len(g.households) for g in running_gateways())
            assert min(days.values()) >= HISTORY.days - 1
            red_before = "SELECT count(*) FROM alerts WHERE severity = 'red' AND first_at < %s"
            assert _count(conn, red_before, started) == 0
            history = "SELECT count(*) FROM readings WHERE measured_at < %s"
            stored_history = _count(conn, history, started)
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

    again = Demo(demo_dir, api_port=free_port(), speed=SPEED)
    restarted = datetime.now(UTC)
    again.start()
    try:
        state = again.wait_running()
        assert "already seeded" in again.text()
        # The devices hold the same history again, and the gateways download it again
        # with their first measurements: it is stored once, with no conflicting values.
        _wait_for_every_household_download(state["urls"]["database"], restarted)
        with psycopg.connect(state["urls"]["database"], autocommit=True) as conn:
            assert _patients(conn) == household_count()
            assert _count(conn, history, started) == stored_history
            assert _count(conn, "SELECT count(*) FROM reading_conflicts") == 0
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
