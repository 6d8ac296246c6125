"""Gateway status: the retained message on ``telecare/v1/gw/{id}/status``.

    {"v":1,"gateway_id":"gw-1","state":"online","at":"2026-11-29T07:22:00.000000Z",
     "software_version":"0.1.0","outbox_depth":0,"flags":["outbox_full"],
     "devices":[{"device_id":"AA:BB:CC:DD:EE:FF","battery":80,"rssi":-60,
                 "last_seen":"2026-11-29T07:21:00.000000Z","firmware":"1.2",
                 "model":"HEM-7155T","serial":"2019110345","clock_offset_s":-7200.0}]}

An online gateway publishes it retained on connect and whenever it changes. The broker
publishes ``offline_status`` as the Last Will when the connection dies; a will is fixed
at connect time, so it carries only ``"state":"offline"`` and nulls (ingest records its
own receive time as the moment it went offline). A gateway that shuts down cleanly may
publish a full offline status itself. ``flags`` name conditions the fleet must hear
about (``outbox_full``: the outbox reached its capacity and drops continuous samples).
``devices`` lists devices the gateway has seen, assigned or not, with what it knows about
them (null when unknown); ``clock_offset_s`` is the device clock minus the gateway clock
when the gateway last read it (negative: the device is behind), before it set the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.identifier import check_device_id, check_gateway_id
from gateway.limits import MAX_COUNTER, MAX_DEVICES_PER_GATEWAY, MAX_LABEL_LENGTH
from gateway.timestamp import check_utc, format_utc, utc_time
from gateway.topic import check_topic_gateway
from gateway.wire import (
    VERSION,
    ContractError,
    array,
    build,
    check_count,
    check_range,
    check_text,
    integer,
    json_object,
    load_object,
    member,
    number,
    read,
    read_optional,
    string,
)

# Battery Level 0x2A19 is a percentage, 0-100 (GSS battery_level.yaml).
_BATTERY_PERCENT = (0, 100)
# RSSI in dBm as the LE Advertising Report gives it: -127..+20, 127 meaning "not
# available", which the gateway sends as null (Bluetooth Core 5.x, Vol 4, Part E, 7.7.65.2).
_RSSI_DBM = (-127, 20)


class GatewayState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class GatewayFlag(StrEnum):
    """A condition a gateway reports in its status until it clears."""

    OUTBOX_FULL = "outbox_full"
    BLUETOOTH_UNAVAILABLE = "bluetooth_unavailable"


# A device clock can be wrong by years (unset clocks start at the firmware's epoch), but
# an offset beyond a century is a decoding error, not a clock.
_MAX_CLOCK_OFFSET_S = 100 * 365.25 * 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    """What a gateway last knew about one device."""

    device_id: str
    battery: int | None = None
    rssi: int | None = None
    last_seen: datetime | None = None
    firmware: str | None = None
    model: str | None = None
    serial: str | None = None
    clock_offset_s: float | None = None

    def __post_init__(self) -> None:
        check_device_id(self.device_id)
        if self.battery is not None:
            check_range(self.battery, _BATTERY_PERCENT, field="battery")
        if self.rssi is not None:
            check_range(self.rssi, _RSSI_DBM, field="rssi")
        if self.last_seen is not None:
            check_utc(self.last_seen, field="last_seen")
        for name in ("firmware", "model", "serial"):
            text = getattr(self, name)
            if text is not None:
                check_text(text, field=name, max_length=MAX_LABEL_LENGTH)
        offset = self.clock_offset_s
        if offset is not None and not (
            math.isfinite(offset) and abs(offset) <= _MAX_CLOCK_OFFSET_S
        ):
            raise ContractError(f"{offset!r} is not a clock offset", field="clock_offset_s")

    def to_json(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "battery": self.battery,
            "rssi": self.rssi,
            "last_seen": None if self.last_seen is None else format_utc(self.last_seen),
            "firmware": self.firmware,
            "model": self.model,
            "serial": self.serial,
            "clock_offset_s": self.clock_offset_s,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """A gateway's state; ``at``, ``software_version`` and ``outbox_depth`` are null
    only in an offline status (the Last Will)."""

    gateway_id: str
    state: GatewayState
    at: datetime | None
    software_version: str | None
    outbox_depth: int | None
    flags: frozenset[GatewayFlag] = frozenset()
    devices: tuple[DeviceStatus, ...] = ()

    def __post_init__(self) -> None:
        check_gateway_id(self.gateway_id)
        if self.state is GatewayState.ONLINE:
            for name in ("at", "software_version", "outbox_depth"):
                if getattr(self, name) is None:
                    raise ContractError("is required when online", field=name)
        if self.at is not None:
            check_utc(self.at, field="at")
        if self.software_version is not None:
            check_text(self.software_version, field="software_version", max_length=MAX_LABEL_LENGTH)
        if self.outbox_depth is not None:
            check_range(self.outbox_depth, (0, MAX_COUNTER), field="outbox_depth")
        check_count(self.devices, field="devices", maximum=MAX_DEVICES_PER_GATEWAY)
        first_index: dict[str, int] = {}
        for index, device in enumerate(self.devices):
            if first_index.setdefault(device.device_id, index) != index:
                raise ContractError("device listed twice", field=f"devices[{index}].device_id")

    def to_json(self) -> dict[str, object]:
        return {
            "v": VERSION,
            "gateway_id": self.gateway_id,
            "state": self.state.value,
            "at": None if self.at is None else format_utc(self.at),
            "software_version": self.software_version,
            "outbox_depth": self.outbox_depth,
            "flags": sorted(flag.value for flag in self.flags),
            "devices": [device.to_json() for device in self.devices],
        }


def offline_status(gateway_id: str) -> Status:
    """The Last Will a gateway registers on connect (publish it retained)."""
    return Status(
        gateway_id=gateway_id,
        state=GatewayState.OFFLINE,
        at=None,
        software_version=None,
        outbox_depth=None,
    )


def decode_status(data: bytes, *, topic_gateway_id: str | None = None) -> Status:
    """The status in ``data``; with ``topic_gateway_id``, it must be that gateway's."""
    obj = load_object(data)
    status = build(
        lambda: Status(
            gateway_id=read(obj, "gateway_id", string),
            state=read(obj, "state", _state),
            at=read_optional(obj, "at", utc_time),
            software_version=read_optional(obj, "software_version", string),
            outbox_depth=read_optional(obj, "outbox_depth", integer),
            flags=frozenset(read(obj, "flags", _flags)),
            devices=read(obj, "devices", _devices),
        )
    )
    check_topic_gateway(status.gateway_id, topic_gateway_id)
    return status


def _device(value: object) -> DeviceStatus:
    obj = json_object(value)
    return DeviceStatus(
        device_id=read(obj, "device_id", string),
        battery=read_optional(obj, "battery", integer),
        rssi=read_optional(obj, "rssi", integer),
        last_seen=read_optional(obj, "last_seen", utc_time),
        firmware=read_optional(obj, "firmware", string),
        model=read_optional(obj, "model", string),
        serial=read_optional(obj, "serial", string),
        clock_offset_s=read_optional(obj, "clock_offset_s", number),
    )


_state = member(GatewayState)
_flags = array(member(GatewayFlag))
_devices = array(_device)
