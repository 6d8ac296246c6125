"""deploy/: the compose file, the container image and the systemd units refer to real things.

Containers cannot run here, so the compose file is parsed and every part of it that names
telecare is checked against the code: each command parses as a ``telecare`` command
line, each ``TELECARE_*`` variable is one a settings module reads, each mounted file
exists, and the sed adaptations of the production broker config match lines it has; the
broker runs that config, every long-running service has a healthcheck, and no secret is
written in the file (they come from .env, whose variables compose.env.example lists).
"""

from __future__ import annotations

import configparser
import inspect
import re
import shlex
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

from api import settings as api_settings
from ingest import alert_settings
from ingest import settings as ingest_settings
from telecare.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
# The modules whose docstrings and constants name every TELECARE_* variable the server
# parts read (ingest, its alerts, the api).
SETTINGS_SOURCES = "".join(
    inspect.getsource(module) for module in (ingest_settings, alert_settings, api_settings)
)
VARIABLE = re.compile(r"TELECARE_[A-Z0-9_]+")
TELECARE_IMAGE = "telecare:latest"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def _telecare_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == TELECARE_IMAGE
    }


def test_the_stack_has_its_parts(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"timescaledb", "mosquitto", "migrate", "ingest", "api"}
    image, _, tag = services["timescaledb"]["image"].partition(":")
    assert image == "timescale/timescaledb"
    assert int(re.fullmatch(r".*-pg(\d+)", tag)[1]) >= 16  # type: ignore[index]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert services["migrate"]["build"] == {"context": "..", "dockerfile": "deploy/Containerfile"}


def test_every_command_is_a_telecare_command_line(compose: dict[str, Any]) -> None:
    commands = {name: s["command"] for name, s in _telecare_services(compose).items()}
    assert commands == {"migrate": ["db", "migrate"], "ingest": ["ingest"], "api": ["api"]}
    parser = build_parser()
    for command in commands.values():
        assert callable(parser.parse_args(command).handler)


def test_every_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    for name, service in _telecare_services(compose).items():
        unknown = [v for v in service["environment"] if v not in SETTINGS_SOURCES]
        assert unknown == [], name
        assert all(VARIABLE.fullmatch(v) for v in service["environment"])


def test_ingest_runs_twice_on_one_shared_subscription(compose: dict[str, Any]) -> None:
    ingest = compose["services"]["ingest"]
    assert ingest["deploy"]["replicas"] == 2
    assert ingest["environment"]["TELECARE_MQTT_SHARED_GROUP"]
    assert "TELECARE_MQTT_CLIENT_ID" not in ingest["environment"]  # one per replica
    assert ingest["environment"]["TELECARE_MQTT_URL"].startswith("mqtt://ingest:")
    assert ingest["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_services_share_one_database_and_the_api_listens_outside_its_container(
    compose: dict[str, Any],
) -> None:
    urls = {s["environment"]["TELECARE_DATABASE_URL"] for s in _telecare_services(compose).values()}
    assert urls == {"postgresql://telecare:${TELECARE_DB_PASSWORD}@timescaledb:5432/telecare"}
    assert compose["services"]["api"]["environment"]["TELECARE_API_HOST"] == "0.0.0.0"


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    mounts = [v.split(":")[0] for v in compose["services"]["mosquitto"]["volumes"]]
    files = [DEPLOY / m for m in mounts if m.startswith("./") and "secrets" not in m]
    assert files
    assert [f for f in files if not f.exists()] == []


def test_the_broker_adaptations_match_lines_of_the_production_config(
    compose: dict[str, Any],
) -> None:
    script = compose["services"]["mosquitto"]["command"][2].replace("$$", "$")
    expressions = [arg for arg in shlex.split(script) if arg.startswith("s/^")]
    config_lines = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert len(expressions) == 2
    for expression in expressions:
        pattern = expression.split("/")[1]
        assert any(re.fullmatch(pattern, line) for line in config_lines), pattern


def test_the_image_installs_the_server_extra() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install --no-cache-dir '.[server]'" in text
    assert 'ENTRYPOINT ["telecare"]' in text
    assert "USER telecare" in text


@pytest.mark.parametrize("part", ["ingest", "api", "gateway"])
def test_systemd_units_run_a_telecare_command_unprivileged(part: str) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / f"telecare-{part}.service")
    service = unit["Service"]
    assert service["User"] not in {"", "root"}
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/telecare/")
    program, *argv = shlex.split(service["ExecStart"])
    assert program == "/opt/telecare/.venv/bin/telecare"
    assert argv[0] == part
    assert callable(build_parser().parse_args(argv).handler)


# Where each service's healthcheck looks: the ports the stack's own settings name.
MQTT_PORT, API_PORT = 1883, 8000
REFERENCE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::\?[^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET")
FROM_ENV = "from-env"


def _environment_values(compose: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (service_name, name, str(value))
        for service_name, service in compose["services"].items()
        for name, value in service.get("environment", {}).items()
    ]


def test_mosquitto_runs_the_production_config_of_deploy(compose: dict[str, Any]) -> None:
    mosquitto = compose["services"]["mosquitto"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in mosquitto["volumes"] if v.startswith("./"))
    assert mounts["./mosquitto/mosquitto.conf"] == "/etc/mosquitto/mosquitto.conf.production"
    script = mosquitto["command"][2]
    assert "/etc/mosquitto/mosquitto.conf.production > /tmp/mosquitto.conf" in script
    assert script.endswith("exec mosquitto -c /tmp/mosquitto.conf")
    # Every file the config names is mounted where it says.
    config = dict(
        line.split(" ", 1)
        for line in (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert mounts["./mosquitto/acl"] == config["acl_file"]
    assert mounts["./secrets/passwd"] == config["password_file"]
    assert Path(config["cafile"]).parent == Path(mounts["./secrets/certs"])
    assert mosquitto["ports"] == ["8883:8883"]  # TLS only, to the gateways


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    tests = {name: s["healthcheck"]["test"] for name, s in services.items() if name != "migrate"}
    assert set(tests) == {"timescaledb", "mosquitto", "ingest", "api"}
    assert tests["timescaledb"][:2] == ["CMD", "pg_isready"]
    api = services["api"]["environment"]
    assert int(api["TELECARE_API_PORT"]) == API_PORT
    assert tests["api"][:2] == ["CMD", "python"]
    assert f"http://127.0.0.1:{API_PORT}/health" in tests["api"][3]
    ingest_url = services["ingest"]["environment"]["TELECARE_MQTT_URL"]
    assert ingest_url.endswith(f"@mosquitto:{MQTT_PORT}")
    for name in ("mosquitto", "ingest"):
        assert tests[name][0] == "CMD-SHELL"
        assert f":{MQTT_PORT:04X} " in tests[name][1]
    assert services["ingest"]["depends_on"]["mosquitto"] == {"condition": "service_healthy"}


def test_the_socket_table_healthchecks_find_a_listener_and_a_connection(
    compose: dict[str, Any],
) -> None:
    # The same shell lines, run here against a real listening and a real connected
    # socket on a free port in place of the broker's.
    listening, connected = (
        compose["services"][name]["healthcheck"]["test"][1] for name in ("mosquitto", "ingest")
    )
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = f"{server.getsockname()[1]:04X}"
        line = {
            name: text.replace(f":{MQTT_PORT:04X} ", f":{port} ")
            for name, text in (("listening", listening), ("connected", connected))
        }
        assert subprocess.run(["sh", "-c", line["listening"]], check=False).returncode == 0
        assert subprocess.run(["sh", "-c", line["connected"]], check=False).returncode == 1
        with socket.create_connection(server.getsockname()):
            assert subprocess.run(["sh", "-c", line["connected"]], check=False).returncode == 0


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    urls_with_passwords = 0
    for service_name, name, value in _environment_values(compose):
        where = f"{service_name}.{name}"
        if SECRET_NAME.search(name):
            assert REFERENCE.fullmatch(value), where
        # Masked first: a reference's ":?message" would end a URL's authority early.
        password = urlsplit(REFERENCE.sub(FROM_ENV, value)).password
        if password is not None:
            assert password == FROM_ENV, where
            urls_with_passwords += 1
    # The database URL of migrate, ingest and the api, and the broker URLs of the last two.
    assert urls_with_passwords == 5
    assert "change-me" not in COMPOSE.read_text()


def test_every_referenced_variable_is_in_the_env_example(compose: dict[str, Any]) -> None:
    referenced = {m["name"] for m in REFERENCE.finditer(COMPOSE.read_text())}
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "compose.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert referenced == set(example)
    assert all(value.startswith("change-me") for value in example.values())
    ignored = (DEPLOY.parent / ".gitignore").read_text().splitlines()
    assert {"deploy/.env", "deploy/secrets/"} <= set(ignored)
