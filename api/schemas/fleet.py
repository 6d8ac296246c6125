"""Fleet models: devices, assignments, gateways, gateway configs. No clinical field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.lifecycle import DeviceState
from gateway.contract import MAX_DEVICES_PER_GATEWAY, MAX_ID_LENGTH, GatewayFlag


class DeviceOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    model: str
    serial_number: str | None
    bluetooth_address: str | None
    lifecycle_state: DeviceState
    firmware_revision: str | None
    battery_percent: int | None
    rssi_dbm: int | None
    last_seen: datetime | None
    last_gateway_id: str | None
    # What the device itself reported (Device Information Service): a model or serial
    # other than the registered one means the wrong device went to this home.
    reported_model: str | None
    reported_serial: str | None
    # Device clock minus gateway clock when last read, in seconds.
    clock_offset_s: float | None
    # The patient the device is assigned to now, if any (for delivery and collection).
    patient_id: int | None


class DeviceCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    model: str = Field(min_length=1, max_length=64)
    serial_number: str | None = Field(default=None, min_length=1, max_length=64)
    bluetooth_address: str | None = Field(
        default=None, pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
    )


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    to: DeviceState


class AssignmentOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    device_id: str
    patient_id: int
    since: datetime
    until: datetime | None
    assigned_by: int | None


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    patient_id: int = Field(ge=1, le=2**63 - 1)
    since: datetime | None = None


class AssignmentEnd(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    until: datetime | None = None


class GatewayOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    state: str
    software_version: str | None
    outbox_depth: int | None
    # Conditions the gateway's last status named (an offline gateway keeps them).
    status_flags: list[GatewayFlag]
    status_at: datetime | None
    last_seen: datetime | None


class GatewayCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


class ConfigDevice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    profile: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)


class ConfigSettings(BaseModel):
    """Operating settings (gateway.contract RemoteSettings bounds them); omitted: defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scan_interval_s: int | None = None
    max_connections: int | None = None
    batch_size: int | None = None
    batch_wait_s: int | None = None
    status_interval_s: int | None = None


class GatewayConfigIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    devices: list[ConfigDevice] = Field(max_length=MAX_DEVICES_PER_GATEWAY)
    settings: ConfigSettings = ConfigSettings()


class GatewayConfigOut(BaseModel):
    """The config last published on the gateway's retained config topic."""

    model_config = ConfigDict(frozen=True)

    gateway_id: str
    topic: str
    config: dict[str, Any]
    issued_at: datetime
    issued_by: int | None
