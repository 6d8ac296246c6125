"""A stand-in gateway for ingest tests: publishes readings batches, collects app acks.

It speaks the real contract over a real broker with paho, like the gateway does, but
keeps no outbox: tests decide what to resend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from devices.reading import Kind, Reading, Unit
from gateway.contract import (
    DELIVERY,
    Ack,
    Channel,
    ReadingsBatch,
    decode_ack,
    encode,
    new_batch_id,
    parse_topic,
    topic,
)
from ingest.settings import MqttProtocol

PROTOCOLS = [
    pytest.param(MqttProtocol.V5, id="mqtt5"),
    pytest.param(MqttProtocol.V311, id="mqtt311"),
]
# Far enough in the past that no machine clock makes it "the future" (plausibility).
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
TIMEOUT = 20.0
_UNITS = {Kind.SPO2: Unit.PERCENT, Kind.PULSE_RATE: Unit.PER_MINUTE, Kind.SYSTOLIC: Unit.MMHG}


def reading(device_id: str, second: int, *, kind: Kind = Kind.SPO2, value: float = 97.0):
    """One reading, ``second`` seconds after EPOCH: (device, kind, second) is its key."""
    return Reading(
        device_id=device_id,
        kind=kind,
        value=value,
        unit=_UNITS[kind],
        measured_at=EPOCH + timedelta(seconds=second),
        continuous=True,
    )


def batch(gateway_id: str, readings: Iterable[Reading], *, batch_id: str | None = None):
    return ReadingsBatch(
        batch_id=batch_id or new_batch_id(),
        gateway_id=gateway_id,
        sent_at=EPOCH,
        readings=tuple(readings),
    )


def stream(gateway_id: str, *, batches: int, size: int, device_id: str | None = None):
    """``batches`` batches of ``size`` distinct SpO2 readings of one device."""
    device = device_id or f"{gateway_id}-oximeter"
    return [
        batch(gateway_id, (reading(device, n * size + i) for i in range(size)))
        for n in range(batches)
    ]


def interleave(*streams: list[ReadingsBatch]) -> list[ReadingsBatch]:
    """Batches of several gateways, taking turns (streams of equal length)."""
    return [b for turn in zip(*streams, strict=True) for b in turn]


def wait_until(predicate: Callable[[], bool], *, timeout: float = TIMEOUT, what: str = ""):
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


class GatewayDouble:
    """One MQTT client per gateway id set; acks for every id are collected."""

    def __init__(
        self,
        url_host: str,
        port: int,
        *,
        client_id: str,
        gateway_ids: Iterable[str],
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
    ):
        self.acks: list[Ack] = []
        # Called on paho's thread as each ack arrives, before it is recorded.
        self.on_ack: Callable[[Ack], None] | None = None
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        ack_qos = DELIVERY[Channel.ACK].qos
        ack_topics = [(topic(gw, Channel.ACK), ack_qos) for gw in gateway_ids]
        self._client.on_message = self._on_message
        # Subscribe on every connect: a restarted broker may have lost the session.
        self._client.on_connect = lambda client, *_: client.subscribe(ack_topics)
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.connect(url_host, port)
        self._client.loop_start()
        if not self._subscribed.wait(TIMEOUT):
            raise AssertionError("gateway double: no SUBACK")

    def publish(self, batches: Iterable[ReadingsBatch]) -> None:
        self.publish_raw((topic(b.gateway_id, Channel.READINGS), encode(b)) for b in batches)

    def publish_raw(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Publish at QoS 1 and wait for every PUBACK."""
        infos = [self._client.publish(name, payload, qos=1) for name, payload in messages]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            assert info.is_published()

    def resend_until_acked(self, batches: list[ReadingsBatch], *, every: float = 1.0) -> None:
        """Resend what no ack named yet, as the gateway's outbox does, until all are acked.

        An app ack published while the gateway was away is lost (acks are not retained);
        the resend is what recovers it.
        """

        def all_acked() -> bool:
            acked = set(self.acked_batch_ids())
            missing = [b for b in batches if b.batch_id not in acked]
            if missing and time.monotonic() >= next_resend[0]:
                self.publish(missing)
                next_resend[0] = time.monotonic() + every
            return not missing

        next_resend = [time.monotonic() + every]
        wait_until(all_acked, what=f"acks for {len(batches)} batches")

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def acked_batch_ids(self) -> list[str]:
        with self._lock:
            return [batch_id for ack in self.acks for batch_id in ack.batch_ids]

    def rejected_batch_ids(self) -> list[str]:
        with self._lock:
            return [r.batch_id for ack in self.acks for r in ack.rejected]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, client, userdata, message) -> None:
        gateway_id, _ = parse_topic(message.topic)
        ack = decode_ack(message.payload, topic_gateway_id=gateway_id)
        if self.on_ack is not None:
            self.on_ack(ack)
        with self._lock:
            self.acks.append(ack)
