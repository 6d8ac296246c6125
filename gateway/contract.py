"""The MQTT wire contract between gateways, ingest and the api: topics and payloads.

This is the only place that builds or reads topics and payloads; everything here is
pure (standard library only) so ingest and the api can import it without bleak or paho.
Import from this module; the pieces live in small neighbours:

    gateway.topic        Channel, topic(), parse_topic(), subscription(), DELIVERY
    gateway.identifier   what gateway/device/batch ids may contain, new_batch_id()
    gateway.batch        ReadingsBatch (.../readings), salvage_batch_id()
    gateway.ack          Ack, Rejection (.../ack)
    gateway.status       Status, DeviceStatus, offline_status() (.../status)
    gateway.assignment   GatewayConfig, DeviceAssignment, RemoteSettings (.../config)
    gateway.limits       every size limit
    gateway.timestamp    how instants and device times are spelled
    gateway.wire         ContractError, encode(), the strict JSON reader

Errors:

    ContractError(ValueError)   bytes or values that break the contract; ``field`` is the
                                path of the culprit ("readings[3].measured_at")

Every ``decode_*`` function returns its payload or raises ContractError, whatever the
bytes; payload constructors validate too, so ``encode`` never writes an invalid payload.

Compatibility: each payload carries ``v`` (now 1). Decoders reject unsupported versions
and ignore unknown fields, so an optional field may be added within a version;
removing, renaming or re-meaning a field, or changing a golden file in
tests/gateway/golden/, is a wire-format change and needs a new ``v``.
"""

from __future__ import annotations

from gateway.ack import Ack, Rejection, decode_ack
from gateway.assignment import (
    SETTING_BOUNDS,
    DeviceAssignment,
    GatewayConfig,
    RemoteSettings,
    decode_config,
)
from gateway.batch import ReadingsBatch, decode_readings, salvage_batch_id
from gateway.identifier import (
    BATCH_ID,
    DEVICE_ID,
    GATEWAY_ID,
    check_device_id,
    check_gateway_id,
    new_batch_id,
)
from gateway.limits import (
    MAX_ACK_ENTRIES,
    MAX_DEVICES_PER_GATEWAY,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_BATCH,
    MAX_REASON_LENGTH,
)
from gateway.status import (
    DeviceStatus,
    GatewayFlag,
    GatewayState,
    Status,
    decode_status,
    offline_status,
)
from gateway.topic import DELIVERY, Channel, Delivery, parse_topic, subscription, topic
from gateway.wire import SUPPORTED_VERSIONS, VERSION, ContractError, Payload, encode

__all__ = [
    "BATCH_ID",
    "DELIVERY",
    "DEVICE_ID",
    "GATEWAY_ID",
    "MAX_ACK_ENTRIES",
    "MAX_DEVICES_PER_GATEWAY",
    "MAX_ID_LENGTH",
    "MAX_LABEL_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_READINGS_PER_BATCH",
    "MAX_REASON_LENGTH",
    "SETTING_BOUNDS",
    "SUPPORTED_VERSIONS",
    "VERSION",
    "Ack",
    "Channel",
    "ContractError",
    "Delivery",
    "DeviceAssignment",
    "DeviceStatus",
    "GatewayConfig",
    "GatewayFlag",
    "GatewayState",
    "Payload",
    "ReadingsBatch",
    "Rejection",
    "RemoteSettings",
    "Status",
    "check_device_id",
    "check_gateway_id",
    "decode_ack",
    "decode_config",
    "decode_readings",
    "decode_status",
    "encode",
    "new_batch_id",
    "offline_status",
    "parse_topic",
    "salvage_batch_id",
    "subscription",
    "topic",
]
