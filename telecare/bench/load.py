"""The load a simulated fleet publishes: 1 Hz SpO2 streams, one oximeter per gateway.

Gateways take turns, each batch holds ``READINGS_PER_BATCH`` consecutive seconds of its
gateway's oximeter, and every reading is distinct (device, kind, time), so ingest stores
them all. Shared by the ingest and alerts benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from devices.reading import Kind, Reading, Unit
from gateway.contract import Channel, ReadingsBatch, encode, new_batch_id, topic

# Gateway batch size: GatewayConfig's default batch of 50 (gateway/assignment.py).
READINGS_PER_BATCH = 50
# Measurements start here: far in the past, so no plausibility rule objects.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def gateway_id(number: int) -> str:
    """The id of the fleet's gateway ``number`` (0-based)."""
    return f"bench-gw-{number:03d}"


def oximeter(gateway: str) -> str:
    """The device id of ``gateway``'s oximeter."""
    return f"{gateway}-oximeter"


def spo2_batches(
    count: int, *, gateways: int, values: Sequence[float], offset: int = 0
) -> list[ReadingsBatch]:
    """``count`` readings (whole batches) from ``gateways`` gateways, measured from
    ``offset`` seconds after EPOCH on, their values cycling through ``values``."""
    batches = []
    for number in range(count // READINGS_PER_BATCH):
        gateway = gateway_id(number % gateways)
        first = offset + (number // gateways) * READINGS_PER_BATCH
        readings = tuple(
            Reading(
                device_id=oximeter(gateway),
                kind=Kind.SPO2,
                value=float(values[second % len(values)]),
                unit=Unit.PERCENT,
                measured_at=EPOCH + timedelta(seconds=first + second),
                continuous=True,
            )
            for second in range(READINGS_PER_BATCH)
        )
        batches.append(
            ReadingsBatch(
                batch_id=new_batch_id(), gateway_id=gateway, sent_at=EPOCH, readings=readings
            )
        )
    return batches


def messages(batches: Sequence[ReadingsBatch]) -> list[tuple[str, bytes]]:
    """Each batch as its gateway publishes it: (topic, payload)."""
    return [(topic(batch.gateway_id, Channel.READINGS), encode(batch)) for batch in batches]
