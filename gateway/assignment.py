"""What the api assigns a gateway: the retained message on ``telecare/v1/gw/{id}/config``.

    {"v":1,"gateway_id":"gw-1","issued_at":"2026-11-29T07:00:00.000000Z",
     "devices":[{"device_id":"AA:BB:CC:DD:EE:FF","profile":"omron-bp"}],
     "settings":{"scan_interval_s":30,"max_connections":2,"batch_size":50,
                 "batch_wait_s":5,"status_interval_s":300}}

``devices`` is the allowlist: the gateway connects only to these devices and reports
others merely as seen. ``profile`` is a device-catalog key, or null to recognise the
device by its advertisement. Because the message is retained, a gateway that connects
gets its latest assignment at once; it keeps the last one it got for offline starts.
Every setting is required and bounded; unknown settings are ignored, like any unknown
field within a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType

from gateway.identifier import check_device_id, check_gateway_id, check_token
from gateway.limits import MAX_DEVICES_PER_GATEWAY, MAX_READINGS_PER_BATCH
from gateway.timestamp import check_utc, format_utc, utc_time
from gateway.topic import check_topic_gateway
from gateway.wire import (
    VERSION,
    ContractError,
    array,
    build,
    check_count,
    check_range,
    integer,
    json_object,
    load_object,
    read,
    read_optional,
    string,
)

# Inclusive bounds of each setting; our choices, sized for a home box with a few devices.
SETTING_BOUNDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        # Seconds between scans; an hour is the longest a new spot reading should wait.
        "scan_interval_s": (1, 3600),
        # Concurrent BLE connections; a home controller serves a handful at most.
        "max_connections": (1, 8),
        # Readings per published batch, at most what one batch may hold.
        "batch_size": (1, MAX_READINGS_PER_BATCH),
        # Seconds a partial batch may wait for more readings; 0 publishes at once.
        "batch_wait_s": (0, 300),
        # Seconds between online-status refreshes (a change is published at once).
        "status_interval_s": (10, 3600),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteSettings:
    """Operating settings the api pushes to a gateway; defaults suit a typical home."""

    scan_interval_s: int = 30
    max_connections: int = 2
    # Batches of 50, as the ingest benchmark publishes them (issue "Ingest and storage").
    batch_size: int = 50
    batch_wait_s: int = 5
    status_interval_s: int = 300

    def __post_init__(self) -> None:
        for setting in fields(self):
            name = setting.name
            check_range(getattr(self, name), SETTING_BOUNDS[name], field=name)

    def to_json(self) -> dict[str, object]:
        return {setting.name: getattr(self, setting.name) for setting in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceAssignment:
    """One device a gateway may connect to."""

    device_id: str
    profile: str | None = None

    def __post_init__(self) -> None:
        check_device_id(self.device_id)
        if self.profile is not None:
            check_token(self.profile, field="profile")

    def to_json(self) -> dict[str, object]:
        return {"device_id": self.device_id, "profile": self.profile}


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    """A gateway's device allowlist and settings, as issued by the api."""

    gateway_id: str
    issued_at: datetime
    devices: tuple[DeviceAssignment, ...] = ()
    settings: RemoteSettings = field(default_factory=RemoteSettings)

    def __post_init__(self) -> None:
        check_gateway_id(self.gateway_id)
        check_utc(self.issued_at, field="issued_at")
        check_count(self.devices, field="devices", maximum=MAX_DEVICES_PER_GATEWAY)
        first_index: dict[str, int] = {}
        for index, device in enumerate(self.devices):
            if first_index.setdefault(device.device_id, index) != index:
                raise ContractError("device listed twice", field=f"devices[{index}].device_id")

    def to_json(self) -> dict[str, object]:
        return {
            "v": VERSION,
            "gateway_id": self.gateway_id,
            "issued_at": format_utc(self.issued_at),
            "devices": [device.to_json() for device in self.devices],
            "settings": self.settings.to_json(),
        }


def decode_config(data: bytes, *, topic_gateway_id: str | None = None) -> GatewayConfig:
    """The config in ``data``; with ``topic_gateway_id``, it must be for that gateway."""
    obj = load_object(data)
    config = build(
        lambda: GatewayConfig(
            gateway_id=read(obj, "gateway_id", string),
            issued_at=read(obj, "issued_at", utc_time),
            devices=read(obj, "devices", _devices),
            settings=read(obj, "settings", _settings),
        )
    )
    check_topic_gateway(config.gateway_id, topic_gateway_id)
    return config


def _device(value: object) -> DeviceAssignment:
    obj = json_object(value)
    return DeviceAssignment(
        device_id=read(obj, "device_id", string), profile=read_optional(obj, "profile", string)
    )


def _settings(value: object) -> RemoteSettings:
    obj = json_object(value)
    return RemoteSettings(
        **{setting.name: read(obj, setting.name, integer) for setting in fields(RemoteSettings)}
    )


_devices = array(_device)
