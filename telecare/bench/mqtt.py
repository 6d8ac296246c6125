"""The benchmarks' MQTT clients: paho lives here, as gateway/mqtt.py holds the gateway's.

The benchmarks drive the broker from the other side of the pipeline under test:

- ``Fleet`` plays a fleet of gateways (one client on the wire): it publishes readings
  batches at QoS 1 and hears ingest's app-level acks (ingest and alerts benchmarks);
- ``Acker`` plays ingest without a database: it acks every batch at once (gateway
  benchmark), so the gateway's outbox fills and drains as in production.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.contract import (
    Ack,
    Channel,
    decode_ack,
    decode_readings,
    encode,
    parse_topic,
    subscription,
    topic,
)
from ingest.settings import Broker

# Outstanding QoS 1 publishes: far below the 65,535 packet ids a client has (floors.md 3.4).
PUBLISH_WINDOW = 1000
# Bounds on the broker's answers (connect, subscribe, a window's publish acks).
SUBSCRIBE_TIMEOUT = 30.0
PUBLISH_TIMEOUT = 600.0


def _client(broker: Broker, *, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    return client


class Fleet:
    """Gateways on the wire: publish readings batches, hand every ack to ``on_ack``.

    ``on_ack`` runs on paho's network thread with the ack's batch ids and the
    ``time.perf_counter()`` at which the ack arrived. Use as a context manager: entering
    connects and waits until the broker confirms the ack subscription.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        client_id: str,
        on_ack: Callable[[tuple[str, ...], float], None],
    ) -> None:
        self._broker = broker
        self._on_ack = on_ack
        self._subscribed = threading.Event()
        self._client = _client(broker, client_id=client_id)
        self._client.on_message = self._message
        self._client.on_subscribe = lambda *_: self._subscribed.set()

    def __enter__(self) -> Fleet:
        self._client.connect(self._broker.host, self._broker.port)
        self._client.loop_start()
        try:
            self._client.subscribe(subscription(Channel.ACK), qos=1)
            if not self._subscribed.wait(SUBSCRIBE_TIMEOUT):
                raise RuntimeError("the broker did not confirm the ack subscription")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, name: str, payload: bytes) -> None:
        """One QoS 1 publish, not waited for (safe from any thread)."""
        self._client.publish(name, payload, qos=1)

    def publish_all(
        self, payloads: Sequence[tuple[str, bytes]], *, per_second: float | None = None
    ) -> None:
        """Publish ``(topic, payload)`` pairs at QoS 1, at most ``PUBLISH_WINDOW`` unconfirmed
        by the broker; as fast as that goes, or ``per_second`` messages a second from now."""
        start = time.perf_counter()
        window: deque[mqtt.MQTTMessageInfo] = deque()
        for number, (name, payload) in enumerate(payloads):
            if per_second is not None:
                ahead = start + number / per_second - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            window.append(self._client.publish(name, payload, qos=1))
            if len(window) >= PUBLISH_WINDOW:
                window.popleft().wait_for_publish(PUBLISH_TIMEOUT)

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()
        self._on_ack(decode_ack(bytes(message.payload)).batch_ids, arrived)


class Acker:
    """Ingest's side of the contract, minus the database: ack every batch at once."""

    def __init__(self, broker: Broker, *, client_id: str = "") -> None:
        self.readings = 0
        self._lock = threading.Lock()
        self._client = _client(broker, client_id=client_id)
        self._client.on_connect = lambda c, *_: c.subscribe(subscription(Channel.READINGS), 1)
        self._client.on_message = self._message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        gateway_id, _ = parse_topic(message.topic)
        batch = decode_readings(bytes(message.payload))
        with self._lock:
            self.readings += len(batch.readings)
        ack = Ack(
            gateway_id=gateway_id, batch_ids=(batch.batch_id,), committed_at=datetime.now(UTC)
        )
        client.publish(topic(gateway_id, Channel.ACK), encode(ack), qos=1)

    def count(self) -> int:
        with self._lock:
            return self.readings

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
