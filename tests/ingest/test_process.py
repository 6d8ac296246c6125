"""The ingest process: a service that cannot start says why in one line and exits 2."""

from __future__ import annotations

import io
import subprocess
import sys

from ingest.process import EXIT_UNAVAILABLE, serve
from tests.fixtures.mosquitto import free_port


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
