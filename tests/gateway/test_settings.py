"""Gateway settings: the file, the environment, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.contract import DeviceAssignment
from gateway.settings import (
    BleSettings,
    GatewaySettings,
    MqttProtocol,
    MqttSettings,
    OutboxSettings,
    PublishSettings,
    SettingsError,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "gateway.example.toml"

GOOD = """\
[gateway]
id = "gw-0001"
state_dir = "/srv/gw"
device_tz = "Europe/Copenhagen"

[mqtt]
url = "mqtts://gw-0001:s%40cret@broker.example.org"
protocol = "3.1.1"

[publish]
batch_size = 20

[outbox]
capacity = 5000

[ble]
adapter = "hci1"
max_connections = 3
set_clock = false

[[devices]]
id = "aa:bb:cc:dd:ee:01"
profile = "sig-blood-pressure"

[[devices]]
id = "AA:BB:CC:DD:EE:02"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_a_full_file(tmp_path):
    settings = load_settings(_write(tmp_path, GOOD), environ={})
    assert settings == GatewaySettings(
        gateway_id="gw-0001",
        state_dir=Path("/srv/gw"),
        device_tz=ZoneInfo("Europe/Copenhagen"),
        mqtt=MqttSettings(
            url="mqtts://gw-0001:s%40cret@broker.example.org", protocol=MqttProtocol.V311
        ),
        publish=PublishSettings(batch_size=20),
        outbox=OutboxSettings(capacity=5000),
        ble=BleSettings(adapter="hci1", max_connections=3, set_clock=False),
        devices=(
            DeviceAssignment(device_id="AA:BB:CC:DD:EE:01", profile="sig-blood-pressure"),
            DeviceAssignment(device_id="AA:BB:CC:DD:EE:02"),
        ),
    )
    mqtt = settings.mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls, mqtt.username, mqtt.password) == (
        "broker.example.org",
        8883,
        True,
        "gw-0001",
        "s@cret",
    )
    assert "s%40cret" not in repr(settings)  # the password never reaches a log line


def test_the_environment_overrides_the_file(tmp_path):
    settings = load_settings(
        _write(tmp_path, GOOD),
        environ={
            "TELECARE_MQTT_URL": "mqtt://localhost:1999",
            "TELECARE_GATEWAY_ID": "gw-0002",
            "TELECARE_GATEWAY_BLE_MAX_CONNECTIONS": "1",
            "TELECARE_GATEWAY_BLE_SET_CLOCK": "yes",
            "TELECARE_GATEWAY_PUBLISH_ACK_TIMEOUT_S": "2.5",
        },
    )
    assert settings.gateway_id == "gw-0002"
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.tls) == ("localhost", 1999, False)
    assert settings.ble == BleSettings(adapter="hci1", max_connections=1, set_clock=True)
    assert settings.publish.ack_timeout_s == 2.5


def test_only_the_id_is_required():
    assert load_settings(environ={"TELECARE_GATEWAY_ID": "gw-1"}) == GatewaySettings(
        gateway_id="gw-1"
    )


def test_the_example_config_loads():
    settings = load_settings(EXAMPLE, environ={})
    assert settings.gateway_id == "gw-0001"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        pytest.param("", {}, "defaults: gateway.id: is required", id="no-id"),
        pytest.param(
            '[gateway]\nid = "a/b"',
            {},
            "gateway.id: 'a/b' is not a valid gateway id",
            id="id-with-a-topic-level",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[mqtt]\nurl = "http://x"',
            {},
            "mqtt.url: must start with mqtt:// or mqtts://",
            id="url-scheme",
        ),
        pytest.param(
            '[gateway]\nid = "gw"',
            {"TELECARE_MQTT_URL": "mqtt://host:99999"},
            "TELECARE_MQTT_URL: mqtt.url: Port out of range",
            id="url-port-from-env",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[ble]\nmax_connections = 12',
            {},
            "ble.max_connections: must be 1..8, got 12",
            id="out-of-range",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[ble]\nmax_connections = "two"',
            {},
            "ble.max_connections: invalid literal",
            id="not-a-number",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[mqtt]\nprotocol = "4"',
            {},
            "mqtt.protocol: must be one of '5', '3.1.1', got '4'",
            id="protocol",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\ndevice_tz = "Mars/Olympus"',
            {},
            "gateway.device_tz: unknown time zone 'Mars/Olympus'",
            id="time-zone",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[mqtt]\nca_file = "/nonexistent/ca.pem"',
            {},
            "mqtt.ca_file: no such file",
            id="missing-ca-file",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[ble]\nmax_conections = 2',
            {},
            "ble.max_conections: unknown key",
            id="typo",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[bel]\nadapter = "hci0"',
            {},
            "bel: unknown section",
            id="unknown-section",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[[devices]]\nid = "AA:BB"\nprofile = "omron"',
            {},
            "devices[0].profile: unknown profile 'omron'",
            id="unknown-profile",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[[devices]]\nprofile = "sig-blood-pressure"',
            {},
            "devices[0]: needs an id",
            id="device-without-id",
        ),
        pytest.param(
            '[gateway]\nid = "gw"\n[ble]\nset_clock = "maybe"',
            {},
            "ble.set_clock: must be true or false",
            id="not-a-boolean",
        ),
        pytest.param("[gateway\n", {}, "(file): not valid TOML", id="not-toml"),
    ],
)
def test_a_bad_setting_names_its_key_and_why(tmp_path, text, environ, message):
    path = _write(tmp_path, text) if text else None
    with pytest.raises(SettingsError) as error:
        load_settings(path, environ=environ)
    assert message in str(error.value)


def test_an_unreadable_file_says_so(tmp_path):
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.toml", environ={})
