"""The gateway's settings: one TOML file, overridden by ``TELECARE_*`` environment variables.

    [gateway]            id, state_dir, device_tz
    [mqtt]               url (mqtt:// or mqtts://, user and password in it), protocol, TLS files
    [publish]            batching, app-level ack timeout, resend backoff
    [outbox]             capacity
    [ble]                adapter, scanning, connections, timeouts, clock tolerance
    [[devices]]          the local allowlist, used until the api's retained config arrives

Every key has a default except ``gateway.id``. Environment variables override the file:
``TELECARE_GATEWAY_<KEY>`` for ``[gateway]`` (TELECARE_GATEWAY_ID), ``TELECARE_MQTT_<KEY>``
for ``[mqtt]`` (TELECARE_MQTT_URL, shared by every telecare service: ARCHITECTURE.md
"Configuration") and ``TELECARE_GATEWAY_<SECTION>_<KEY>`` for the rest
(TELECARE_GATEWAY_BLE_ADAPTER). A bad value is a ``SettingsError`` that names the key,
where it came from and why: "gateway.toml: ble.max_connections: must be 1..8, got 12".
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, NoneType, UnionType
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices import CATALOG
from gateway.contract import (
    SETTING_BOUNDS,
    ContractError,
    DeviceAssignment,
    check_device_id,
    check_gateway_id,
)

_ENV_PREFIX = "TELECARE_"
# IANA default MQTT ports (RFC 6335 registry: 1883 mqtt, 8883 secure-mqtt).
MQTT_PORT = 1883
MQTTS_PORT = 8883
_SCHEMES = MappingProxyType({"mqtt": MQTT_PORT, "mqtts": MQTTS_PORT})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_S = TypeVar("_S")


class SettingsError(ValueError):
    """A setting that cannot be used: ``key`` is its dotted name, ``source`` the file or
    environment variable it came from."""

    def __init__(self, key: str, reason: str, *, source: str) -> None:
        self.key = key
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {key}: {reason}")


class MqttProtocol(StrEnum):
    V5 = "5"
    V311 = "3.1.1"  # brokers without MQTT 5; refusals then show only as missing acks


def _int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError(f"must be a whole number, got {raw!r}")
    return int(raw)


def _float(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TypeError(f"must be a number, got {raw!r}")
    return float(raw)


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise TypeError(f"must be true or false, got {raw!r}")


def _str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"must be a string, got {raw!r}")
    return raw


def _url(raw: Any) -> str:
    url = _str(raw)
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"must start with mqtt:// or mqtts://, got {parts.scheme or url!r}")
    if not parts.hostname:
        raise ValueError("names no broker host")
    parts.port  # noqa: B018 - raises ValueError for a port that is no port
    return url


def _file(raw: Any) -> Path:
    path = Path(_str(raw))
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


def _gateway_id(raw: Any) -> str:
    gateway_id = _str(raw)
    check_gateway_id(gateway_id, field=None)
    return gateway_id


def _bounded(default: _S, low: float, high: float) -> _S:
    return field(default=default, metadata={"range": (low, high)})


# Field metadata for values with their own check.
_URL = MappingProxyType({"convert": _url})
_FILE = MappingProxyType({"convert": _file})
_GATEWAY_ID = MappingProxyType({"convert": _gateway_id})


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    url: str = field(default=f"mqtt://localhost:{MQTT_PORT}", metadata=_URL, repr=False)
    protocol: MqttProtocol = MqttProtocol.V5
    # Trust anchors for mqtts:// (default: the system's), and a client certificate
    # and key for brokers that authenticate gateways by certificate.
    ca_file: Path | None = field(default=None, metadata=_FILE)
    cert_file: Path | None = field(default=None, metadata=_FILE)
    key_file: Path | None = field(default=None, metadata=_FILE)
    keepalive_s: int = _bounded(60, 5, 3600)
    # MQTT 5 Session Expiry Interval: the broker keeps the session this long offline.
    session_expiry_s: int = _bounded(7 * 24 * 3600, 0, 2**32 - 1)
    reconnect_max_s: int = _bounded(60, 1, 3600)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or _SCHEMES[parts.scheme]

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def username(self) -> str | None:
        name = urlsplit(self.url).username
        return None if name is None else unquote(name)

    @property
    def password(self) -> str | None:
        password = urlsplit(self.url).password
        return None if password is None else unquote(password)


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishSettings:
    # Defaults for what the api's config may change (gateway.contract RemoteSettings).
    batch_size: int = _bounded(50, *SETTING_BOUNDS["batch_size"])
    batch_wait_s: int = _bounded(5, *SETTING_BOUNDS["batch_wait_s"])
    status_interval_s: int = _bounded(300, *SETTING_BOUNDS["status_interval_s"])
    # Seconds to wait for ingest's ack before a batch is sent again, and the longest
    # wait between resends (exponential backoff in between).
    ack_timeout_s: float = _bounded(30.0, 0.05, 3600)
    resend_max_s: float = _bounded(300.0, 0.05, 86400)
    # Batches published but not yet acknowledged, at most.
    max_in_flight: int = _bounded(8, 1, 64)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxSettings:
    # Readings held at most (see gateway.outbox for the policy when full): three days of
    # a 1 Hz oximeter's SpO2, pulse and perfusion index.
    capacity: int = _bounded(800_000, 10, 50_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class BleSettings:
    enabled: bool = True
    adapter: str | None = None  # "hci0"; default: BlueZ's first powered adapter
    scan_duration_s: float = _bounded(5.0, 0.05, 300)
    scan_interval_s: int = _bounded(30, *SETTING_BOUNDS["scan_interval_s"])
    max_connections: int = _bounded(2, *SETTING_BOUNDS["max_connections"])
    revisit_after_s: float = _bounded(60.0, 0, 86400)
    retry_initial_s: float = _bounded(5.0, 0.01, 3600)
    retry_max_s: float = _bounded(600.0, 0.01, 86400)
    connect_attempts: int = _bounded(3, 1, 10)
    gatt_timeout_s: float = _bounded(10.0, 0.05, 120)
    idle_timeout_s: float = _bounded(10.0, 0.05, 3600)
    clock_tolerance_s: float = _bounded(120.0, 1, 86400)
    set_clock: bool = True
    delete_after_download: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySettings:
    gateway_id: str = field(metadata=_GATEWAY_ID)
    state_dir: Path = Path("/var/lib/telecare-gateway")
    device_tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    ble: BleSettings = field(default_factory=BleSettings)
    devices: tuple[DeviceAssignment, ...] = ()

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    @property
    def config_path(self) -> Path:
        """Where the last config from the api is kept for offline starts."""
        return self.state_dir / "config.json"


# TOML section -> settings class; "gateway" holds GatewaySettings' own scalar keys.
SECTIONS: Mapping[str, type[Any]] = MappingProxyType(
    {"mqtt": MqttSettings, "publish": PublishSettings, "outbox": OutboxSettings, "ble": BleSettings}
)
_GATEWAY_KEYS = MappingProxyType(
    {"id": "gateway_id", "state_dir": "state_dir", "device_tz": "device_tz"}
)


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, **overrides: Any
) -> GatewaySettings:
    """Settings from ``path`` (optional), then the environment, then ``overrides``
    (field name -> value, for the command line)."""
    environ = os.environ if environ is None else environ
    document: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError("(file)", f"cannot read: {exc.strerror}", source=source) from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError("(file)", f"not valid TOML: {exc}", source=source) from exc
    known = {"gateway", "devices", *SECTIONS}
    for key in document:
        if key not in known:
            raise SettingsError(
                key, f"unknown section; known: {', '.join(sorted(known))}", source=source
            )
    gateway = _table(document, "gateway", source)
    values: dict[str, Any] = {}
    for key, name in _GATEWAY_KEYS.items():
        raw, where = _pick(gateway, key, f"{_ENV_PREFIX}GATEWAY_{key.upper()}", environ, source)
        if raw is not None:
            values[name] = _convert(GatewaySettings, name, raw, f"gateway.{key}", where)
    _reject_unknown(gateway, _GATEWAY_KEYS, "gateway", source)
    for section, cls in SECTIONS.items():
        values[section] = _section(cls, section, _table(document, section, source), environ, source)
    values["devices"] = _devices(document.get("devices", []), source)
    values.update(overrides)
    if "gateway_id" not in values:
        raise SettingsError(
            "gateway.id", f"is required (or set {_ENV_PREFIX}GATEWAY_ID)", source=source
        )
    return GatewaySettings(**values)


def _env_name(section: str, key: str) -> str:
    middle = "MQTT" if section == "mqtt" else f"GATEWAY_{section.upper()}"
    return f"{_ENV_PREFIX}{middle}_{key.upper()}"


def _table(document: Mapping[str, Any], section: str, source: str) -> Mapping[str, Any]:
    table = document.get(section, {})
    if not isinstance(table, dict):
        raise SettingsError(section, "must be a table ([section])", source=source)
    return table


def _reject_unknown(table: Mapping[str, Any], known: object, section: str, source: str) -> None:
    for key in table:
        if key not in known:  # type: ignore[operator]
            raise SettingsError(f"{section}.{key}", "unknown key", source=source)


def _pick(
    table: Mapping[str, Any], key: str, env: str, environ: Mapping[str, str], source: str
) -> tuple[Any, str]:
    if env in environ:
        return environ[env], env
    return table.get(key), source


def _section(
    cls: type[_S], section: str, table: Mapping[str, Any], environ: Mapping[str, str], source: str
) -> _S:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    _reject_unknown(table, names, section, source)
    values: dict[str, Any] = {}
    for name in names:
        raw, where = _pick(table, name, _env_name(section, name), environ, source)
        if raw is not None:
            values[name] = _convert(cls, name, raw, f"{section}.{name}", where)
    try:
        return cls(**values)
    except ValueError as exc:
        raise SettingsError(section, str(exc), source=source) from exc


def _convert(cls: type[Any], name: str, raw: Any, key: str, source: str) -> Any:
    spec = next(f for f in fields(cls) if f.name == name)
    hint = typing.get_type_hints(cls)[name]
    optional = isinstance(hint, UnionType) and NoneType in typing.get_args(hint)
    target = next(a for a in typing.get_args(hint) if a is not NoneType) if optional else hint
    if optional and raw == "":
        return None
    convert = spec.metadata.get("convert") or _CONVERTERS.get(target)
    if convert is None:  # a StrEnum: its values are what the file says
        convert = lambda value: target(str(value))  # noqa: E731
    try:
        value = convert(raw)
    except (ValueError, TypeError, ZoneInfoNotFoundError, ContractError) as exc:
        raise SettingsError(key, _why(target, raw, exc), source=source) from exc
    bounds = spec.metadata.get("range")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise SettingsError(key, f"must be {bounds[0]}..{bounds[1]}, got {value}", source=source)
    return value


def _why(target: Any, raw: Any, exc: Exception) -> str:
    if isinstance(exc, ZoneInfoNotFoundError):
        return f"unknown time zone {raw!r} (an IANA name such as 'Europe/Copenhagen')"
    if isinstance(target, type) and issubclass(target, StrEnum):
        return f"must be one of {', '.join(repr(m.value) for m in target)}, got {raw!r}"
    return f"{exc}" if str(exc) else f"cannot use {raw!r}"


_CONVERTERS: Mapping[Any, Callable[[Any], Any]] = MappingProxyType(
    {
        int: _int,
        float: _float,
        bool: _bool,
        str: _str,
        Path: lambda raw: Path(_str(raw)),
        ZoneInfo: lambda raw: ZoneInfo(_str(raw)),
    }
)


def _devices(raw: Any, source: str) -> tuple[DeviceAssignment, ...]:
    if not isinstance(raw, list):
        raise SettingsError("devices", "must be an array of tables ([[devices]])", source=source)
    devices = []
    for index, entry in enumerate(raw):
        key = f"devices[{index}]"
        if not isinstance(entry, dict) or "id" not in entry:
            raise SettingsError(key, "needs an id (the device's Bluetooth address)", source=source)
        _reject_unknown(entry, {"id", "profile"}, key, source)
        device_id = str(entry["id"]).upper()
        profile = entry.get("profile")
        try:
            check_device_id(device_id, field=None)
        except ContractError as exc:
            raise SettingsError(f"{key}.id", str(exc), source=source) from exc
        if profile is not None and profile not in CATALOG:
            known = ", ".join(CATALOG)
            raise SettingsError(
                f"{key}.profile", f"unknown profile {profile!r}; known: {known}", source=source
            )
        devices.append(DeviceAssignment(device_id=device_id, profile=profile))
    return tuple(devices)
