"""IngestSettings from TELECARE_* variables: defaults, every variable, clear errors."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ingest import settings as settings_module
from ingest.alert_settings import VARIABLES, AlertSettings
from ingest.settings import (
    Broker,
    IngestSettings,
    MqttProtocol,
    SettingsError,
    default_client_id,
)

DB = "postgresql://ingest@db.example/telecare"


def test_only_the_database_url_is_required():
    assert IngestSettings.from_env({"TELECARE_DATABASE_URL": DB}) == IngestSettings(
        database_url=DB,
        broker=Broker(host="127.0.0.1", port=1883),
        protocol=MqttProtocol.V5,
        client_id=default_client_id(),
        session_expiry=86_400,
        shared_group=None,
        ca_file=None,
        receive_maximum=1000,
        batch_size=2000,
        max_delay=0.5,
        skew_tolerance=timedelta(minutes=5),
    )


def test_every_variable_is_read():
    environ = {
        "TELECARE_DATABASE_URL": DB,
        "TELECARE_MQTT_URL": "mqtts://ingest:s%40cret@broker.example:8884",
        "TELECARE_MQTT_PROTOCOL": "3.1.1",
        "TELECARE_MQTT_CLIENT_ID": "ingest-a",
        "TELECARE_MQTT_SESSION_EXPIRY": "3600",
        "TELECARE_MQTT_SHARED_GROUP": "ingest",
        "TELECARE_MQTT_CA_FILE": "/etc/telecare/ca.pem",
        "TELECARE_MQTT_RECEIVE_MAXIMUM": "200",
        "TELECARE_INGEST_BATCH_SIZE": "500",
        "TELECARE_INGEST_MAX_DELAY": "0.25",
        "TELECARE_INGEST_SKEW_TOLERANCE": "60",
    }
    settings = IngestSettings.from_env(environ)
    assert settings == IngestSettings(
        database_url=DB,
        broker=Broker(
            host="broker.example", port=8884, tls=True, username="ingest", password="s@cret"
        ),
        protocol=MqttProtocol.V311,
        client_id="ingest-a",
        session_expiry=3600,
        shared_group="ingest",
        ca_file=Path("/etc/telecare/ca.pem"),
        receive_maximum=200,
        batch_size=500,
        max_delay=0.25,
        skew_tolerance=timedelta(seconds=60),
    )
    assert settings.subscription == "$share/ingest/telecare/v1/gw/+/readings"


@pytest.mark.parametrize(
    ("group", "subscriptions"),
    [
        pytest.param(
            None,
            (("telecare/v1/gw/+/readings", 1), ("telecare/v1/gw/+/status", 1)),
            id="alone",
        ),
        pytest.param(
            "ingest",
            (("$share/ingest/telecare/v1/gw/+/readings", 1), ("telecare/v1/gw/+/status", 1)),
            id="statuses-never-shared",
        ),
    ],
)
def test_the_subscriptions(group, subscriptions):
    environ = {"TELECARE_DATABASE_URL": DB}
    if group is not None:
        environ["TELECARE_MQTT_SHARED_GROUP"] = group
    assert IngestSettings.from_env(environ).subscriptions == subscriptions


def test_the_alert_settings_come_from_the_same_environment():
    settings = IngestSettings.from_env(
        {
            "TELECARE_DATABASE_URL": DB,
            "TELECARE_ALERT_WATCHDOG_INTERVAL": "2.5",
            "TELECARE_ALERT_CLOCK_SKEW_LIMIT": "600",
            "TELECARE_ALERT_GATEWAY_OFFLINE_AFTER": "60",
        }
    )
    defaults = AlertSettings()
    assert settings.alerts == replace(
        defaults,
        rules=replace(
            defaults.rules,
            clock_skew_limit=timedelta(minutes=10),
            gateway_offline_after=timedelta(minutes=1),
        ),
        watchdog=replace(defaults.watchdog, interval=2.5),
    )


def test_a_bad_alert_setting_stops_ingest_too():
    with pytest.raises(SettingsError, match="TELECARE_ALERT_CLOCK_SKEW_LIMIT='0'"):
        IngestSettings.from_env(
            {"TELECARE_DATABASE_URL": DB, "TELECARE_ALERT_CLOCK_SKEW_LIMIT": "0"}
        )


@pytest.mark.parametrize(
    ("url", "broker"),
    [
        pytest.param(
            "mqtt://localhost", Broker(host="localhost", port=1883), id="mqtt-default-port"
        ),
        pytest.param("mqtts://b.example", Broker(host="b.example", port=8883, tls=True), id="tls"),
        pytest.param("mqtt://u@b:2000/", Broker(host="b", port=2000, username="u"), id="user"),
        pytest.param("mqtt://[::1]:1884", Broker(host="::1", port=1884), id="ipv6"),
    ],
)
def test_broker_urls(url, broker):
    assert Broker.from_url(url) == broker


def test_passwords_stay_out_of_repr_and_logs():
    settings = IngestSettings.from_env(
        {"TELECARE_DATABASE_URL": DB, "TELECARE_MQTT_URL": "mqtt://u:hunter2@b"}
    )
    assert "hunter2" not in repr(settings)
    assert settings.broker.url == "mqtt://u@b:1883"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TELECARE_MQTT_URL", "http://b", "TELECARE_MQTT_URL=.*scheme must be mqtt"),
        ("TELECARE_MQTT_URL", "mqtt://u:pw@b:99999", r"TELECARE_MQTT_URL=\(hidden\): bad port"),
        ("TELECARE_MQTT_URL", "mqtt://b/topic", "no path"),
        ("TELECARE_MQTT_PROTOCOL", "4", "must be 5 or 3.1.1"),
        ("TELECARE_MQTT_CLIENT_ID", "ingest+1", "client id"),
        ("TELECARE_MQTT_SESSION_EXPIRY", "0", "session expiry must be within"),
        ("TELECARE_MQTT_SHARED_GROUP", "a/b", "shared group"),
        ("TELECARE_MQTT_RECEIVE_MAXIMUM", "70000", "receive maximum must be within 1..65535"),
        ("TELECARE_INGEST_BATCH_SIZE", "many", "TELECARE_INGEST_BATCH_SIZE='many'"),
        ("TELECARE_INGEST_BATCH_SIZE", "0", "batch size must be within"),
        ("TELECARE_INGEST_MAX_DELAY", "nan", "max delay"),
        ("TELECARE_INGEST_SKEW_TOLERANCE", "-1", "skew tolerance must not be negative"),
        ("TELECARE_INGEST_SKEW_TOLERANCE", "inf", "finite"),
    ],
)
def test_bad_values_are_settings_errors_naming_what_is_wrong(variable, value, message):
    with pytest.raises(SettingsError, match=message):
        IngestSettings.from_env({"TELECARE_DATABASE_URL": DB, variable: value})


def test_a_missing_database_url_is_named():
    with pytest.raises(SettingsError, match="TELECARE_DATABASE_URL is not set"):
        IngestSettings.from_env({})


def test_the_default_client_id_is_stable_and_topic_safe():
    assert default_client_id() == default_client_id()
    assert default_client_id().startswith("telecare-ingest-")
    assert not set("+#/ ") & set(default_client_id())


def test_the_operations_guide_lists_every_variable_ingest_reads():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    listed = re.findall(r"TELECARE_[A-Z_]*[A-Z]\b", settings_module.__doc__ or "")
    variables = {*listed, *VARIABLES}
    assert len(variables) == 11 + 14
    assert {name for name in variables if f"`{name}`" not in guide} == set()
