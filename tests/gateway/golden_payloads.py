"""The payload objects the golden files in tests/gateway/golden/ pin, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from gateway.contract import (
    Ack,
    DeviceAssignment,
    DeviceStatus,
    GatewayConfig,
    GatewayFlag,
    GatewayState,
    Payload,
    ReadingsBatch,
    Rejection,
    RemoteSettings,
    Status,
    offline_status,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
GATEWAY_ID = "gw-0042"
BATCH_ID = "3f2b8c1e-5a4d-4e7b-9c2a-1d0e6f7a8b9c"

CUFF = "A4:C1:38:00:00:01"
OXIMETER = "C0:FF:EE:00:00:02"


# A cuff measurement sent in kPa (16.0 / 10.7 kPa, MAP the SFLOAT NaN 0x07FF, pulse 72)
# with the device clock at 08:15:30 Copenhagen time (UTC+1), user 1, irregular pulse and
# body movement flagged, as devices.blood_pressure turns a 0x2A35 indication into readings
# (kPa to mmHg at 0.1 resolution, keeping what the device sent).
def _cuff(kind: Kind, value: float | None, **fields: Any) -> Reading:
    return Reading(
        device_id=CUFF,
        kind=kind,
        value=value,
        measured_at=datetime(2026, 11, 29, 7, 15, 30, tzinfo=UTC),
        device_time=datetime(2026, 11, 29, 8, 15, 30),
        flags=frozenset({Flag.IRREGULAR_PULSE, Flag.BODY_MOVEMENT}),
        user_id=1,
        **({"unit": Unit.MMHG} | fields),
    )


# One continuous PLX sample with no device time: the gateway's receive time, flagged.
def _oximeter(kind: Kind, value: float, *, unit: Unit) -> Reading:
    return Reading(
        device_id=OXIMETER,
        kind=kind,
        value=value,
        unit=unit,
        measured_at=datetime(2026, 11, 29, 7, 30, 4, 875000, tzinfo=UTC),
        flags=frozenset({Flag.RECEIVE_TIME}),
        continuous=True,
    )


READINGS_BATCH = ReadingsBatch(
    batch_id=BATCH_ID,
    gateway_id=GATEWAY_ID,
    sent_at=datetime(2026, 11, 29, 7, 30, 5, 250000, tzinfo=UTC),
    readings=(
        _cuff(Kind.SYSTOLIC, 120.0, original_value=16.0, original_unit=Unit.KPA),
        _cuff(Kind.DIASTOLIC, 80.3, original_value=10.7, original_unit=Unit.KPA),
        _cuff(Kind.MEAN_ARTERIAL_PRESSURE, None, absent_reason=AbsentReason.NOT_A_NUMBER),
        _cuff(Kind.PULSE_RATE, 72.0, unit=Unit.PER_MINUTE),
        _oximeter(Kind.SPO2, 97.0, unit=Unit.PERCENT),
        _oximeter(Kind.PULSE_RATE, 64.0, unit=Unit.PER_MINUTE),
    ),
)

ACK = Ack(
    gateway_id=GATEWAY_ID,
    batch_ids=(BATCH_ID, "0b6c1a52-8f3e-4d21-a7c9-5e4f3b2a1d0c"),
    committed_at=datetime(2026, 11, 29, 7, 30, 5, 731204, tzinfo=UTC),
    rejected=(
        Rejection(
            batch_id="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            reason="readings[3].kind: unknown Kind 'weight'",
        ),
    ),
)

STATUS_ONLINE = Status(
    gateway_id=GATEWAY_ID,
    state=GatewayState.ONLINE,
    at=datetime(2026, 11, 29, 7, 0, 0, tzinfo=UTC),
    software_version="0.1.0.dev0",
    outbox_depth=12,
    flags=frozenset({GatewayFlag.OUTBOX_FULL}),
    devices=(
        DeviceStatus(
            device_id=CUFF,
            battery=80,
            rssi=-67,
            last_seen=datetime(2026, 11, 29, 6, 58, 12, 500000, tzinfo=UTC),
            firmware="V1.04",
            model="UA-651BLE",
            serial="5140100123",
            # The cuff's clock was two hours behind when the gateway read it.
            clock_offset_s=-7200.0,
        ),
        # A device in range but not assigned: only its advertisement is known.
        DeviceStatus(device_id="F0:0D:00:00:00:03", rssi=-88),
    ),
)

STATUS_OFFLINE = offline_status(GATEWAY_ID)

CONFIG = GatewayConfig(
    gateway_id=GATEWAY_ID,
    issued_at=datetime(2026, 11, 28, 14, 3, 0, tzinfo=UTC),
    devices=(
        DeviceAssignment(device_id=CUFF, profile="sig-blood-pressure"),
        DeviceAssignment(device_id=OXIMETER),
    ),
    settings=RemoteSettings(batch_size=25),
)

GOLDEN: dict[str, Payload] = {
    "readings_batch": READINGS_BATCH,
    "ack": ACK,
    "status_online": STATUS_ONLINE,
    "status_offline": STATUS_OFFLINE,
    "config": CONFIG,
}


def golden_bytes(name: str) -> bytes:
    return (GOLDEN_DIR / f"{name}.json").read_bytes()


def golden_document(name: str) -> dict[str, Any]:
    """The golden payload as a JSON object, to mutate in tests."""
    document: dict[str, Any] = json.loads(golden_bytes(name))
    return document
