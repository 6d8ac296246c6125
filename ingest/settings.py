"""The ingest service's settings, read once from ``TELECARE_*`` environment variables.

    TELECARE_DATABASE_URL            libpq URL of PostgreSQL                  (required)
    TELECARE_MQTT_URL                mqtt[s]://[user[:password]@]host[:port]  mqtt://127.0.0.1:1883
    TELECARE_MQTT_PROTOCOL           5 | 3.1.1                                5
    TELECARE_MQTT_CLIENT_ID          stable across restarts (the session)     telecare-ingest-<host>
    TELECARE_MQTT_SESSION_EXPIRY     seconds the broker keeps the session (5) 86400
    TELECARE_MQTT_SHARED_GROUP       $share group that N processes split      (none)
    TELECARE_MQTT_CA_FILE            CA bundle for mqtts://                   system CAs
    TELECARE_MQTT_RECEIVE_MAXIMUM    unacknowledged messages in flight (5)    1000
    TELECARE_INGEST_BATCH_SIZE       readings per database transaction        2000
    TELECARE_INGEST_MAX_DELAY        seconds a message waits for its commit   0.5
    TELECARE_INGEST_SKEW_TOLERANCE   seconds measured_at may lie in future    300

Also read: the ``TELECARE_ALERT_*`` and ``TELECARE_WEBHOOK_*`` variables of
ingest/alert_settings.py (``alerts``), for the rules on arrival and the watchdog that
runs beside the consumer. The shared group splits the readings only: every process
subscribes to the gateways' statuses on its own (ingest/gateway_status.py says why).
Bad values stop the service at start with a ``SettingsError`` naming the variable.
Passwords stay out of ``repr``.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from gateway.contract import DELIVERY, Channel, ContractError, subscription
from ingest.alert_settings import AlertSettings
from ingest.errors import SettingsError as SettingsError  # also imported from here
from ingest.plausibility import DEFAULT_SKEW

T = TypeVar("T")

DATABASE_URL = "TELECARE_DATABASE_URL"
MQTT_URL = "TELECARE_MQTT_URL"
MQTT_PROTOCOL = "TELECARE_MQTT_PROTOCOL"
MQTT_CLIENT_ID = "TELECARE_MQTT_CLIENT_ID"
MQTT_SESSION_EXPIRY = "TELECARE_MQTT_SESSION_EXPIRY"
MQTT_SHARED_GROUP = "TELECARE_MQTT_SHARED_GROUP"
MQTT_CA_FILE = "TELECARE_MQTT_CA_FILE"
MQTT_RECEIVE_MAXIMUM = "TELECARE_MQTT_RECEIVE_MAXIMUM"
BATCH_SIZE = "TELECARE_INGEST_BATCH_SIZE"
MAX_DELAY = "TELECARE_INGEST_MAX_DELAY"
SKEW_TOLERANCE = "TELECARE_INGEST_SKEW_TOLERANCE"

# IANA registered ports: 1883 mqtt, 8883 secure-mqtt (MQTT 5.0 section 4.2).
MQTT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# A day: ingest may be down that long and find its messages queued at the broker
# (bounded by max_queued_messages); gateways resend whatever is lost beyond that.
DEFAULT_SESSION_EXPIRY = 86_400
# MQTT 5.0 section 3.1.2.11.2: a four-byte interval, 0xFFFFFFFF meaning "never expires".
MAX_SESSION_EXPIRY = 0xFFFF_FFFF
# MQTT 5.0 section 3.1.2.11.3: Receive Maximum is a two-byte integer, zero not allowed.
MAX_RECEIVE_MAXIMUM = 0xFFFF
# Unacknowledged messages the broker may have out to ingest (MQTT 5; on 3.1.1 the
# broker's own max_inflight_messages rules). Acks come only after a commit, so this must
# hold more than a flush: 1000 gateway batches of 50 are 25 flushes of 2000 readings,
# and the broker keeps sending while one commits. Memory stays bounded: 1000 x at most
# 256 KiB (gateway.limits.MAX_PAYLOAD_BYTES).
DEFAULT_RECEIVE_MAXIMUM = 1000
# Readings per transaction: past a few thousand a larger COPY gains little (reference
# floors.md 3.2: 5k vs 10k rows per batch within 20 %), and acks wait longer.
DEFAULT_BATCH_SIZE = 2000
# Sanity bound: a flush is held in memory and in one transaction.
MAX_BATCH_SIZE = 100_000
# Seconds a message waits for its commit at most: far inside the 5 s publish-to-alert
# target (reference perf.md section 6: "batching DB writes at 0.5-1 s is fine").
DEFAULT_MAX_DELAY = 0.5
# Kept under the gateway's default app-ack timeout (30 s, gateway/settings.py
# ack_timeout_s), so a quiet stream does not make gateways resend what is about to commit.
MAX_MAX_DELAY = 30.0
# MQTT 5.0 section 3.1.3.1 makes servers accept 1-23 alphanumerics and allows more;
# Mosquitto takes up to 65535 bytes. Topic-safe characters only, so a %c ACL pattern
# (mosquitto.conf(5)) can never be widened by a "+" or "#" in it (CVE-2017-7650).
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CLIENT_ID_PREFIX = "telecare-ingest-"
_NOT_CLIENT_ID_CHARACTER = re.compile(r"[^A-Za-z0-9._-]")


class MqttProtocol(StrEnum):
    """The MQTT version ingest speaks; the value is how the setting spells it."""

    V5 = "5"
    V311 = "3.1.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Broker:
    """Where the MQTT broker is and how to log in."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("the broker host is empty")
        if not 0 < self.port < 2**16:
            raise ValueError(f"port must be within 1..65535, got {self.port}")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a user name")

    @classmethod
    def from_url(cls, url: str) -> Broker:
        """``mqtt://`` or ``mqtts://``, with optional percent-encoded user and password."""
        parts = urlsplit(url)
        if parts.scheme not in MQTT_PORTS:
            raise ValueError(f"scheme must be mqtt:// or mqtts://, got {parts.scheme or 'none'}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("a broker URL has no path, query or fragment")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return cls(
            host=parts.hostname or "",
            port=MQTT_PORTS[parts.scheme] if port is None else port,
            tls=parts.scheme == "mqtts",
            username=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
        )

    @property
    def url(self) -> str:
        """The URL without the password, for logs."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = "" if self.username is None else f"{self.username}@"
        return f"{scheme}://{user}{self.host}:{self.port}"


# A broker on this machine, as for the demo.
DEFAULT_BROKER = Broker(host="127.0.0.1", port=MQTT_PORTS["mqtt"])


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestSettings:
    """Everything ``telecare ingest`` needs, validated."""

    database_url: str = field(repr=False)
    broker: Broker
    protocol: MqttProtocol = MqttProtocol.V5
    client_id: str
    session_expiry: int = DEFAULT_SESSION_EXPIRY
    shared_group: str | None = None
    ca_file: Path | None = None
    receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM
    batch_size: int = DEFAULT_BATCH_SIZE
    max_delay: float = DEFAULT_MAX_DELAY
    skew_tolerance: timedelta = DEFAULT_SKEW
    # The rules on arrival and the watchdog's (ingest/alert_settings.py).
    alerts: AlertSettings = field(default_factory=AlertSettings)

    def __post_init__(self) -> None:
        if not self.database_url:
            raise ValueError("the database URL is empty")
        if not CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(
                f"client id {self.client_id!r} must be 1-128 of A-Z a-z 0-9 . _ - "
                "starting with a letter or digit"
            )
        _check_range("session expiry", self.session_expiry, 1, MAX_SESSION_EXPIRY)
        _check_range("receive maximum", self.receive_maximum, 1, MAX_RECEIVE_MAXIMUM)
        _check_range("batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        if not (math.isfinite(self.max_delay) and 0 < self.max_delay <= MAX_MAX_DELAY):
            raise ValueError(f"max delay must be within (0, {MAX_MAX_DELAY:g}] s")
        if self.skew_tolerance < timedelta(0):
            raise ValueError("skew tolerance must not be negative")
        if self.shared_group is not None:
            try:
                subscription(Channel.READINGS, shared_group=self.shared_group)
            except ContractError as exc:
                raise ValueError(f"shared group: {exc}") from None

    @property
    def subscription(self) -> str:
        """The readings filter this process subscribes to."""
        return subscription(Channel.READINGS, shared_group=self.shared_group)

    @property
    def subscriptions(self) -> tuple[tuple[str, int], ...]:
        """Every filter with its QoS: the readings (maybe shared), the statuses (never)."""
        return (
            (self.subscription, DELIVERY[Channel.READINGS].qos),
            (subscription(Channel.STATUS), DELIVERY[Channel.STATUS].qos),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IngestSettings:
        """Settings from ``environ``; unset variables take their defaults."""
        database_url = environ.get(DATABASE_URL, "")
        if not database_url:
            raise SettingsError(f"{DATABASE_URL} is not set (a libpq URL of PostgreSQL)")
        values = EnvironmentReader(environ)
        shared_group = environ.get(MQTT_SHARED_GROUP) or None
        ca_file = environ.get(MQTT_CA_FILE) or None
        try:
            return cls(
                database_url=database_url,
                broker=values.read(MQTT_URL, Broker.from_url, DEFAULT_BROKER),
                protocol=values.read(MQTT_PROTOCOL, parse_protocol, MqttProtocol.V5),
                client_id=environ.get(MQTT_CLIENT_ID) or default_client_id(),
                session_expiry=values.read(MQTT_SESSION_EXPIRY, int, DEFAULT_SESSION_EXPIRY),
                shared_group=shared_group,
                ca_file=None if ca_file is None else Path(ca_file),
                receive_maximum=values.read(MQTT_RECEIVE_MAXIMUM, int, DEFAULT_RECEIVE_MAXIMUM),
                batch_size=values.read(BATCH_SIZE, int, DEFAULT_BATCH_SIZE),
                max_delay=values.read(MAX_DELAY, float, DEFAULT_MAX_DELAY),
                skew_tolerance=values.read(SKEW_TOLERANCE, _seconds, DEFAULT_SKEW),
                alerts=AlertSettings.from_env(environ),
            )
        except ValueError as exc:
            raise SettingsError(f"bad ingest settings: {exc}") from exc


def default_client_id() -> str:
    """``telecare-ingest-<host name>``: stable across restarts of one machine's service."""
    host = socket.gethostname().split(".")[0]
    suffix = _NOT_CLIENT_ID_CHARACTER.sub("-", host)[:63] or "host"
    return _CLIENT_ID_PREFIX + suffix


class EnvironmentReader:
    """Reads one variable at a time, naming it in the ``error`` a bad value raises (and
    hiding the broker URL's value, which may hold a password). The api reads its
    variables with it too (api/settings.py), raising its own ``SettingsError``."""

    def __init__(
        self, environ: Mapping[str, str], *, error: Callable[[str], Exception] = SettingsError
    ) -> None:
        self._environ = environ
        self._error = error

    def read(self, name: str, convert: Callable[[str], T], default: T) -> T:
        text = self._environ.get(name, "").strip()
        if not text:
            return default
        try:
            return convert(text)
        except ValueError as exc:
            shown = "(hidden)" if name == MQTT_URL else repr(text)
            raise self._error(f"{name}={shown}: {exc}") from None


def parse_protocol(text: str) -> MqttProtocol:
    """``TELECARE_MQTT_PROTOCOL``'s value (also the api's, api/settings.py)."""
    try:
        return MqttProtocol(text)
    except ValueError:
        choices = " or ".join(protocol.value for protocol in MqttProtocol)
        raise ValueError(f"must be {choices}") from None


def _seconds(text: str) -> timedelta:
    seconds = float(text)
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number of seconds")
    return timedelta(seconds=seconds)


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be within {low}..{high}, got {value}")
