"""ApiSettings from TELECARE_* variables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.settings import ApiSettings, OidcSettings, SettingsError
from ingest.settings import Broker, MqttProtocol

BASE = {"TELECARE_DATABASE_URL": "postgresql:///telecare", "TELECARE_API_SECRET": "s" * 32}


def test_defaults():
    assert ApiSettings.from_env(BASE) == ApiSettings(
        database_url="postgresql:///telecare", secret="s" * 32
    )


def test_every_variable():
    settings = ApiSettings.from_env(
        {
            **BASE,
            "TELECARE_API_ISSUER": "region-api",
            "TELECARE_API_ACCESS_TTL": "300",
            "TELECARE_API_REFRESH_TTL": "3600",
            "TELECARE_API_POOL_SIZE": "4",
            "TELECARE_API_LOGIN_ATTEMPTS": "3",
            "TELECARE_API_LOGIN_WINDOW": "60",
            "TELECARE_API_MAX_POINTS": "500",
            "TELECARE_API_HOST": "0.0.0.0",
            "TELECARE_API_PORT": "8080",
            "TELECARE_MQTT_URL": "mqtts://api:pw@broker.example:8883",
            "TELECARE_MQTT_PROTOCOL": "3.1.1",
            "TELECARE_OIDC_ISSUER": "https://idp.example/realms/region",
            "TELECARE_OIDC_JWKS_URL": "https://idp.example/realms/region/certs",
            "TELECARE_OIDC_AUDIENCE": "telecare",
        }
    )
    assert settings == ApiSettings(
        database_url="postgresql:///telecare",
        secret="s" * 32,
        issuer="region-api",
        access_ttl=timedelta(seconds=300),
        refresh_ttl=timedelta(seconds=3600),
        pool_size=4,
        login_attempts=3,
        login_window=timedelta(seconds=60),
        max_points=500,
        host="0.0.0.0",
        port=8080,
        broker=Broker(host="broker.example", port=8883, tls=True, username="api", password="pw"),
        mqtt_protocol=MqttProtocol.V311,
        oidc=OidcSettings(
            issuer="https://idp.example/realms/region",
            jwks_url="https://idp.example/realms/region/certs",
            audience="telecare",
        ),
    )
    assert "pw" not in repr(settings)
    assert "s" * 32 not in repr(settings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"TELECARE_API_SECRET": ""}, "TELECARE_API_SECRET is not set"),
        ({"TELECARE_DATABASE_URL": ""}, "TELECARE_DATABASE_URL is not set"),
        ({"TELECARE_API_SECRET": "short"}, "at least 32 bytes"),
        ({"TELECARE_API_ACCESS_TTL": "-1"}, "TELECARE_API_ACCESS_TTL='-1'"),
        ({"TELECARE_API_PORT": "70000"}, "port must be within"),
        ({"TELECARE_MQTT_URL": "http://x"}, "TELECARE_MQTT_URL=(hidden)"),
        ({"TELECARE_MQTT_PROTOCOL": "3"}, "TELECARE_MQTT_PROTOCOL='3': must be 5 or 3.1.1"),
        ({"TELECARE_OIDC_ISSUER": "https://idp"}, "OIDC needs"),
        (
            {"TELECARE_API_ACCESS_TTL": "7200", "TELECARE_API_REFRESH_TTL": "3600"},
            "must live at least as long",
        ),
    ],
    ids=[
        "no-secret",
        "no-url",
        "short-secret",
        "bad-ttl",
        "bad-port",
        "bad-mqtt",
        "bad-mqtt-protocol",
        "half-oidc",
        "ttl-order",
    ],
)
def test_bad_values_name_the_problem(changes, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ApiSettings.from_env({**BASE, **changes})
