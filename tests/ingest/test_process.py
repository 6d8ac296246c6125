"""The ingest process: a service that cannot start says why in one line and exits 2;
one that runs also runs the watchdog, and stops cleanly on SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg

from devices.reading import utc_now
from gateway.contract import GatewayState, Status
from ingest.process import EXIT_OK, EXIT_UNAVAILABLE, serve
from ingest.program import Program
from tests.fixtures.mosquitto import free_port
from tests.ingest.alerting import home
from tests.ingest.gateway_double import wait_until
from tests.ingest.status_double import StatusGateway

# The console script next to this interpreter: what an operator runs.
TELECARE = Path(sys.executable).with_name("telecare")
# Bounds for the subprocess: a healthy one needs a second or two.
PROCESS_TIMEOUT = 60.0


def serve_and_report(environ: dict[str, str]) -> tuple[int, str]:
    err = io.StringIO()
    return serve(environ, stderr=err), err.getvalue()


def test_missing_settings():
    assert serve_and_report({}) == (
        EXIT_UNAVAILABLE,
        "error: TELECARE_DATABASE_URL is not set (a libpq URL of PostgreSQL)\n",
    )


def test_an_unreachable_database():
    code, err = serve_and_report(
        {"TELECARE_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/telecare"}
    )
    assert code == EXIT_UNAVAILABLE
    assert err.startswith("error: cannot connect to the database: ")
    assert err.count("\n") == 1


def test_a_database_without_the_schema(empty_database_url, mosquitto):
    code, err = serve_and_report(
        {"TELECARE_DATABASE_URL": empty_database_url, "TELECARE_MQTT_URL": mosquitto.url}
    )
    assert code == EXIT_UNAVAILABLE
    assert err.endswith("run 'telecare db migrate'\n")
    assert err.count("\n") == 1


def test_an_unreachable_broker(database_url):
    port = free_port()
    code, err = serve_and_report(
        {"TELECARE_DATABASE_URL": database_url, "TELECARE_MQTT_URL": f"mqtt://127.0.0.1:{port}"}
    )
    assert (code, err) == (
        EXIT_UNAVAILABLE,
        f"error: cannot reach the MQTT broker mqtt://127.0.0.1:{port}: "
        "[Errno 111] Connection refused\n",
    )


def test_python_dash_m_ingest_is_the_same_process(monkeypatch):
    monkeypatch.delenv("TELECARE_DATABASE_URL", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "ingest"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (
        EXIT_UNAVAILABLE,
        "error: TELECARE_DATABASE_URL is not set (a libpq URL of PostgreSQL)\n",
    )


def test_telecare_ingest_raises_time_based_alerts_on_its_own(db, database_url, mosquitto, tmp_path):
    # A COPD patient enrolled a day ago has missed slots (blue); the gateway will die.
    home(db, program=Program.COPD, enrolled=utc_now() - timedelta(days=1))
    gateway = StatusGateway(mosquitto.host, mosquitto.port, gateway_id="gw-1")
    gateway.publish(
        Status(
            gateway_id="gw-1",
            state=GatewayState.ONLINE,
            at=utc_now(),
            software_version="0.2.0",
            outbox_depth=0,
        )
    )
    environ = {
        **os.environ,
        "TELECARE_DATABASE_URL": database_url,
        "TELECARE_MQTT_URL": mosquitto.url,
        "TELECARE_MQTT_CLIENT_ID": "ingest-process-test",
        "TELECARE_ALERT_WATCHDOG_INTERVAL": "0.2",
        "TELECARE_ALERT_GATEWAY_OFFLINE_AFTER": "1",
    }
    log = tmp_path / "ingest.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(TELECARE), "ingest"], env=environ, stdout=output, stderr=subprocess.STDOUT
        )
    try:

        def conditions() -> set[tuple[str, str]]:
            with psycopg.connect(database_url, autocommit=True) as conn:
                rows = conn.execute("SELECT condition, severity FROM alerts").fetchall()
            return {(condition, severity) for condition, severity in rows}

        wait_until(lambda: ("missing_spo2", "blue") in conditions(), what="a blue alert")
        gateway.die()
        wait_until(
            lambda: ("gateway_offline", "yellow") in conditions(), what="gateway offline alert"
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(PROCESS_TIMEOUT) == EXIT_OK
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(PROCESS_TIMEOUT)
    text = log.read_text()
    assert "event=started" in text
    assert "event=stopped" in text
