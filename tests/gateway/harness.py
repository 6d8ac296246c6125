"""Helpers for gateway tests: a stub ingest, deterministic readings, gateway settings.

``StubIngest`` does what ingest promises the gateway (gateway.contract, ARCHITECTURE.md
"Delivery"): it "commits" each readings batch into a table keyed like the readings
table, (device, kind, measured_at), so a replay stores nothing new, and only then
publishes the app-level ack. It remembers every arrival, so a test can count lost,
duplicated and misordered readings (reliability_security.md 1.6: Jepsen's total-queue,
Azure IoT Edge's CountingReport).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.reading import Kind, Reading, Unit
from gateway.contract import (
    Ack,
    Channel,
    ReadingsBatch,
    Rejection,
    decode_readings,
    encode,
    parse_topic,
    subscription,
    topic,
)
from gateway.service import CollectorFactory, Gateway
from gateway.settings import (
    BleSettings,
    GatewaySettings,
    MqttProtocol,
    MqttSettings,
    OutboxSettings,
    PublishSettings,
)
from tests.fixtures.mosquitto import Mosquitto

# Every wait in these tests is bounded by this (seconds); none is asserted on.
TIMEOUT = 30.0
# Readings far enough in the past that ingest's plausibility check never calls them
# "the future" on any clock.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
Key = tuple[str, Kind, datetime]


def key(reading: Reading) -> Key:
    """The storage key (ingest's readings primary key)."""
    return (reading.device_id, reading.kind, reading.measured_at)


def spo2_readings(device_id: str, count: int, *, first: int = 0) -> list[Reading]:
    """``count`` SpO2 samples of one device, one a second from ``EPOCH + first`` s."""
    return [
        Reading(
            device_id=device_id,
            kind=Kind.SPO2,
            value=float(90 + (first + i) % 10),
            unit=Unit.PERCENT,
            measured_at=EPOCH + timedelta(seconds=first + i),
            continuous=True,
        )
        for i in range(count)
    ]


def systolic_readings(device_id: str, count: int) -> list[Reading]:
    """``count`` spot systolic readings of one cuff, one an hour from EPOCH."""
    return [
        Reading(
            device_id=device_id,
            kind=Kind.SYSTOLIC,
            value=float(120 + i % 20),
            unit=Unit.MMHG,
            measured_at=EPOCH + timedelta(hours=i),
        )
        for i in range(count)
    ]


def interleaved(*streams: Sequence[Reading]) -> list[Reading]:
    """Readings of several devices taking turns, each device in its own order."""
    longest = max(len(stream) for stream in streams)
    return [s[i] for i in range(longest) for s in streams if i < len(s)]


def settings_for_test(tmp_path: Path, broker: Mosquitto, **changes: Any) -> GatewaySettings:
    """Settings for a gateway under test: short timeouts, this test's broker and dirs."""
    mqtt = MqttSettings(
        url=broker.url,
        protocol=changes.pop("protocol", MqttProtocol.V5),
        reconnect_max_s=1,
        keepalive_s=5,
    )
    publish = PublishSettings(
        batch_size=changes.pop("batch_size", 50),
        batch_wait_s=0,
        ack_timeout_s=changes.pop("ack_timeout_s", 1.0),
        resend_max_s=changes.pop("resend_max_s", 2.0),
        max_in_flight=changes.pop("max_in_flight", 4),
    )
    ble = BleSettings(
        scan_duration_s=0.2,
        scan_interval_s=1,
        max_connections=2,
        revisit_after_s=changes.pop("revisit_after_s", 3600.0),
        retry_initial_s=0.2,
        retry_max_s=0.5,
        connect_attempts=2,
        gatt_timeout_s=5.0,
        idle_timeout_s=changes.pop("idle_timeout_s", 0.5),
        clock_tolerance_s=60.0,
    )
    return GatewaySettings(
        gateway_id=changes.pop("gateway_id", "gw-test"),
        state_dir=tmp_path / "gateway-state",
        mqtt=mqtt,
        publish=publish,
        outbox=OutboxSettings(capacity=changes.pop("capacity", 100_000)),
        ble=ble,
        **changes,
    )


REPOSITORY = Path(__file__).resolve().parents[2]


def start_process(
    state_dir: Path, broker: Mosquitto, readings: int, *, held_before_publishing: bool = False
) -> subprocess.Popen[bytes]:
    """``tests.gateway.gateway_process`` in its own process (see its docstring).

    ``held_before_publishing``: the broker is stopped until all ``readings`` are in the
    outbox, so everything the test later counts was produced before any fault.
    """
    if held_before_publishing:
        broker.stop()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.gateway.gateway_process",
            "--state-dir",
            str(state_dir),
            "--broker",
            broker.url,
            "--readings",
            str(readings),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    if held_before_publishing:
        try:
            wait_until(lambda: outbox_depth(state_dir) == readings, what="every reading held")
        finally:
            broker.start()
    return process


def outbox_depth(state_dir: Path) -> int:
    """Readings in a gateway's outbox, read from outside the gateway's process."""
    path = state_dir / "outbox.sqlite3"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM reading").fetchone()[0])
    except sqlite3.OperationalError:  # the gateway has not created its tables yet
        return 0
    finally:
        db.close()


class ListCollector:
    """A collector that hands the gateway a fixed list of readings, ``chunk`` at a time
    (as a session hands over one characteristic value's readings), then idles."""

    def __init__(
        self, gateway: Gateway, readings: Sequence[Reading], *, chunk: int, pause: float
    ) -> None:
        self._gateway = gateway
        self._readings = list(readings)
        self._chunk = chunk
        self._pause = pause
        self.done = asyncio.Event()

    async def run(self) -> None:
        for start in range(0, len(self._readings), self._chunk):
            self._gateway.readings(tuple(self._readings[start : start + self._chunk]))
            await asyncio.sleep(self._pause)
        self.done.set()
        await asyncio.Event().wait()


def collecting(
    readings: Sequence[Reading], *, chunk: int = 3, pause: float = 0.0
) -> CollectorFactory:
    def make(gateway: Gateway) -> ListCollector:
        return ListCollector(gateway, readings, chunk=chunk, pause=pause)

    return make


def wait_until(predicate: Callable[[], bool], *, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)


async def eventually(predicate: Callable[[], bool], *, what: str, within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


class StubIngest:
    """A consumer that stores idempotently and acks after its "commit"."""

    def __init__(
        self,
        broker: Mosquitto,
        *,
        ack: bool = True,
        reject: bool = False,
        ack_delay: float = 0.0,
        protocol: MqttProtocol = MqttProtocol.V5,
        client_id: str | None = None,
    ) -> None:
        self.ack = ack
        self.reject = reject
        self.ack_delay = ack_delay
        self.stored: dict[Key, Reading] = {}
        self.arrivals: list[tuple[str, Key]] = []  # (batch id, key), every delivery
        self.batches: list[ReadingsBatch] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        v5 = protocol is MqttProtocol.V5
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"stub-ingest-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else False,
        )
        self._client.on_connect = self._connected
        self._client.on_message = self._message
        properties = Properties(PacketTypes.CONNECT) if v5 else None
        if properties is not None:
            properties.SessionExpiryInterval = 3600
        self._client.reconnect_delay_set(1, 1)
        self._client.connect_async(
            broker.host,
            broker.port,
            clean_start=False if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def _connected(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(subscription(Channel.READINGS), qos=1)
        self.subscribed.set()

    def _message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        gateway_id, _ = parse_topic(message.topic)
        batch = decode_readings(bytes(message.payload), topic_gateway_id=gateway_id)
        with self._lock:
            self.batches.append(batch)
            for reading in batch.readings:
                self.arrivals.append((batch.batch_id, key(reading)))
                if not self.reject:
                    self.stored.setdefault(key(reading), reading)
        if self.ack:
            time.sleep(self.ack_delay)  # a slow database commit
            now = datetime.now(UTC)
            if self.reject:
                rejection = Rejection(batch_id=batch.batch_id, reason="refused by the test")
                ack = Ack(gateway_id=gateway_id, committed_at=now, rejected=(rejection,))
            else:
                ack = Ack(gateway_id=gateway_id, batch_ids=(batch.batch_id,), committed_at=now)
            client.publish(topic(gateway_id, Channel.ACK), encode(ack), qos=1)

    # -- what the test looks at --------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return len(self.stored)

    def has_all(self, readings: Iterable[Reading]) -> bool:
        with self._lock:
            return all(key(r) in self.stored for r in readings)

    def first_arrival_order(self) -> list[Key]:
        """Keys in the order they were first stored."""
        with self._lock:
            seen: dict[Key, None] = {}
            for _, k in self.arrivals:
                seen.setdefault(k)
            return list(seen)

    def batch_ids_per_key(self) -> dict[Key, set[str]]:
        with self._lock:
            ids: dict[Key, set[str]] = defaultdict(set)
            for batch_id, k in self.arrivals:
                ids[k].add(batch_id)
            return dict(ids)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def in_device_order(keys: Sequence[Key]) -> bool:
    """Each device's keys appear in the order of their times."""
    last: dict[str, datetime] = {}
    for device_id, _, measured_at in keys:
        if device_id in last and measured_at < last[device_id]:
            return False
        last[device_id] = measured_at
    return True


# After the SUBACK, how long a retained message may take to arrive (Mosquitto sends it
# at once; the wait only bounds a broker that has none).
_RETAINED_WAIT = 0.5


def retained(broker: Mosquitto, name: str, payload: bytes | None = None) -> bytes | None:
    """Publish ``payload`` retained on ``name``; without one, read what is retained there
    (None when nothing is)."""
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    got: list[bytes] = []
    subscribed = threading.Event()
    client.on_message = lambda c, u, message: got.append(bytes(message.payload))
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        if payload is not None:
            client.publish(name, payload, qos=1, retain=True).wait_for_publish(TIMEOUT)
            return payload
        client.subscribe(name, qos=1)
        wait_until(subscribed.is_set, what=f"a subscription to {name}")
        deadline = time.monotonic() + _RETAINED_WAIT
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        return got[0] if got else None
    finally:
        client.disconnect()
        client.loop_stop()
