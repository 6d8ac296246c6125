"""deploy/provision-gateway: a gateway's broker user and the settings it starts with."""

from __future__ import annotations

import stat

import pytest

from gateway.settings import load_settings
from tests.deploy.broker import env_file, provision

BROKER = "broker.example.org:8883"


def users(password_file) -> list[str]:
    return [line.split(":", 1)[0] for line in password_file.read_text().splitlines()]


def test_a_gateway_gets_a_user_settings_and_a_private_password(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("test CA\n")
    password_file = tmp_path / "passwd"
    done = provision(
        "gw-0042", directory=tmp_path, password_file=password_file, broker=BROKER, ca_file=ca
    )
    assert done.returncode == 0, done.stderr
    output = tmp_path / "gw-0042"
    environ = env_file(output / "gateway.env")
    url = environ["TELECARE_MQTT_URL"]
    password = url.removeprefix("mqtts://gw-0042:").removesuffix(f"@{BROKER}")
    assert len(password) >= 40  # 32 random bytes
    assert password.replace("-", "").replace("_", "").isalnum()  # nothing to escape in a URL
    assert password not in done.stdout + done.stderr
    assert password not in password_file.read_text()  # hashed there
    assert users(password_file) == ["gw-0042"]
    assert stat.S_IMODE((output / "gateway.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o640

    settings = load_settings(output / "gateway.toml", environ=environ)
    assert (settings.gateway_id, settings.mqtt.url, settings.mqtt.ca_file) == ("gw-0042", url, ca)
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.tls) == (
        "broker.example.org",
        8883,
        True,
    )


def test_provisioning_again_rotates_the_password_and_keeps_the_others(tmp_path):
    password_file = tmp_path / "passwd"
    for gateway_id in ("gw-1", "gw-2"):
        provision(gateway_id, directory=tmp_path, password_file=password_file, broker=BROKER)
    first = password_file.read_text().splitlines()
    again = provision("gw-1", directory=tmp_path / "again", password_file=password_file,
                      broker=BROKER)  # fmt: skip
    assert again.returncode == 0, again.stderr
    after = password_file.read_text().splitlines()
    assert users(password_file) == ["gw-2", "gw-1"]
    assert first[1] in after  # gw-2 untouched
    assert first[0] not in after  # gw-1's old password is gone


@pytest.mark.parametrize(
    ("gateway_id", "message"),
    [
        pytest.param("gw+1", "is not a gateway id", id="wildcard"),
        pytest.param("gw/1", "is not a gateway id", id="topic-level"),
        pytest.param("-gw", "is not a gateway id", id="leading-dash"),
        pytest.param("g" * 65, "is not a gateway id", id="too-long"),
        pytest.param("ingest", "a service's broker user", id="ingest"),
        pytest.param("api", "a service's broker user", id="api"),
    ],
)
def test_ids_the_acl_could_not_confine_are_refused(tmp_path, gateway_id, message):
    password_file = tmp_path / "passwd"
    done = provision(gateway_id, directory=tmp_path, password_file=password_file, broker=BROKER)
    assert done.returncode == 2
    assert message in done.stderr
    assert not password_file.exists()


def test_existing_files_are_never_overwritten(tmp_path):
    password_file = tmp_path / "passwd"
    provision("gw-1", directory=tmp_path, password_file=password_file, broker=BROKER)
    before = (tmp_path / "gw-1" / "gateway.env").read_text()
    done = provision("gw-1", directory=tmp_path, password_file=password_file, broker=BROKER)
    assert (done.returncode, (tmp_path / "gw-1" / "gateway.env").read_text()) == (2, before)
    assert "remove it to provision again" in done.stderr
