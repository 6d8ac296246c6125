"""The MQTT side of ingest: receive readings and gateway statuses, ack after the commit.

The one module of ingest that imports paho. It connects with a stable client id and a
persistent session (MQTT 5: Clean Start 0 and a Session Expiry Interval; 3.1.1: Clean
Session 0), subscribes at QoS 1 in ``on_connect`` to every gateway's readings (shared
when configured) and statuses (never shared: ingest/gateway_status.py), again on every
reconnect (a session taken over by a same-id client comes back without them; each
subscribe also brings the retained statuses again), and turns off paho's automatic
PUBACK (``manual_ack``): a message is acknowledged when the service says its batch is
committed, never before. Unacknowledged messages are redelivered by the broker after a
crash or reconnect (MQTT 5.0 section 4.4), which the idempotent store absorbs.

Threads: paho's network thread runs the callbacks; ``on_message`` only appends to a
queue, so a slow commit never starves keepalives. The service thread calls ``get``,
``ack`` and ``publish_ack``.

Acks follow receive order ([MQTT-4.6.0-2]). ``ack`` refuses anything else, and skips
messages of an earlier connection: their packet ids mean nothing on the new one
(or, worse, name a different message), and the broker redelivers them anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# ingest's MQTT boundary (STYLE.md rule 1): paho lives here and nowhere else in ingest.
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.reading import utc_now
from gateway.contract import DELIVERY, Ack, Channel, encode, topic
from ingest import logfmt
from ingest.errors import IngestError
from ingest.settings import IngestSettings, MqttProtocol

log = logging.getLogger(__name__)

# Seconds between PINGREQs when idle (MQTT 5.0 section 3.1.2.10); the network thread
# sends them even while the service waits on the database.
KEEPALIVE = 60
# How long ``start`` waits for CONNACK and SUBACK.
CONNECT_TIMEOUT = 10.0
# paho's reconnect backoff doubles from the first to the second bound, in seconds.
RECONNECT_DELAY = (1, 30)
# App acks paho sends before waiting for the broker's PUBACKs (its default is 20). One
# flush acks up to this many gateways without queueing an app ack behind the messages'
# PUBACKs (ingest.service sends app acks first). paho ignores the Receive Maximum a
# broker announces in CONNACK (MQTT 5.0 section 3.2.2.3.3), so a broker that enforces a
# smaller one needs this lowered; Mosquitto 2.0 does not limit incoming QoS 1.
ACK_INFLIGHT = 100
# ``stop`` first makes sure the broker has taken every PUBACK sent: an UNSUBSCRIBE of a
# filter nobody subscribes to, whose UNSUBACK the broker sends after handling everything
# before it on the connection (MQTT 5.0 section 4.6: in order). Without it, PUBACKs sent
# just before the DISCONNECT were seen lost under load, and their messages redelivered.
SETTLE_FILTER = "telecare/v1/settle"
SETTLE_TIMEOUT = 2.0
_PROTOCOLS = {MqttProtocol.V5: mqtt.MQTTv5, MqttProtocol.V311: mqtt.MQTTv311}


class BrokerUnavailableError(IngestError):
    """The broker could not be reached, refused the connection or the subscription."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One received MQTT message, as the service sees it."""

    topic: str
    payload: bytes = field(repr=False)
    qos: int
    mid: int
    # Which connection delivered it: packet ids are only valid on that one.
    session: int
    # Set by the broker on a redelivery (MQTT 5.0 section 3.3.1.1).
    duplicate: bool
    received_at: datetime


class Consumer:
    """A persistent-session, manual-ack subscription to every gateway's readings and status."""

    def __init__(self, settings: IngestSettings) -> None:
        self._settings = settings
        self._messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Signalled on UNSUBACKs (their packet ids in ``_unsubscribed``) and disconnects.
        self._settled = threading.Condition(self._lock)
        self._unsubscribed: set[int] = set()
        # (session, mid) of QoS 1 messages not yet acknowledged, in receive order.
        self._unacked: deque[tuple[int, int]] = deque()
        self._session = 0
        self._live = False
        self._ready = threading.Event()
        self._failure: str | None = None
        self._started = False
        self._stopping = False
        self.acked = 0
        self.reconnects = 0
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        return self._live

    def start(self, *, timeout: float = CONNECT_TIMEOUT) -> None:
        """Connect and subscribe; BrokerUnavailableError when that fails in ``timeout``."""
        broker = self._settings.broker
        v5 = self._settings.protocol is MqttProtocol.V5
        try:
            self._client.connect(
                broker.host,
                broker.port,
                keepalive=KEEPALIVE,
                # paho's default for MQTT 5 is a clean start on the first connect only.
                clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                properties=self._connect_properties() if v5 else None,
            )
        except OSError as exc:
            raise BrokerUnavailableError(
                f"cannot reach the MQTT broker {broker.url}: {exc}"
            ) from exc
        self._started = True
        self._client.loop_start()
        if not self._ready.wait(timeout):
            self.stop()
            raise BrokerUnavailableError(f"no answer from the MQTT broker {broker.url}")
        if self._failure is not None:
            self.stop()
            raise BrokerUnavailableError(f"MQTT broker {broker.url}: {self._failure}")

    def get(self, timeout: float) -> Message | None:
        """The next message in receive order, or None after ``timeout`` seconds."""
        try:
            return self._messages.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def ack(self, messages: Iterable[Message]) -> int:
        """PUBACK ``messages``, which must be the oldest unacknowledged ones in order.

        Messages of an earlier connection are skipped (the broker redelivers them);
        returns how many were acknowledged.
        """
        sent = 0
        with self._lock:
            for message in messages:
                if message.qos == 0 or message.session != self._session or not self._live:
                    continue
                expected = self._unacked[0] if self._unacked else None
                if expected != (message.session, message.mid):
                    raise ValueError(
                        f"ack out of receive order: mid {message.mid}, expected {expected}"
                    )
                self._unacked.popleft()
                self._client.ack(message.mid, message.qos)
                sent += 1
        self.acked += sent
        return sent

    def publish_ack(self, ack: Ack) -> None:
        """Tell a gateway which of its batches are committed (or rejected for good)."""
        delivery = DELIVERY[Channel.ACK]
        self._client.publish(
            topic(ack.gateway_id, Channel.ACK),
            encode(ack),
            qos=delivery.qos,
            retain=delivery.retain,
        )

    def stop(self) -> None:
        """Disconnect (the broker keeps the session) and stop the network thread, once
        the broker has handled the PUBACKs already sent."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        self._settle(SETTLE_TIMEOUT)
        self._client.disconnect()
        self._client.loop_stop()

    def _settle(self, timeout: float) -> bool:
        """Wait until the broker has handled everything sent so far (see SETTLE_FILTER)."""
        with self._lock:
            if not self._live:
                return False
        result, mid = self._client.unsubscribe(SETTLE_FILTER)
        if result is not mqtt.MQTT_ERR_SUCCESS or mid is None:
            return False
        with self._settled:
            return (
                self._settled.wait_for(lambda: mid in self._unsubscribed or not self._live, timeout)
                and mid in self._unsubscribed
            )

    def _make_client(self) -> mqtt.Client:
        settings = self._settings
        v5 = settings.protocol is MqttProtocol.V5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=_PROTOCOLS[settings.protocol],
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        client.reconnect_delay_set(*RECONNECT_DELAY)
        client.max_inflight_messages_set(ACK_INFLIGHT)
        if settings.broker.username is not None:
            client.username_pw_set(settings.broker.username, settings.broker.password)
        if settings.broker.tls:
            client.tls_set(ca_certs=None if settings.ca_file is None else str(settings.ca_file))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._settings.session_expiry
        # The broker sends at most this many unacknowledged messages; they wait for a
        # commit, so this bounds what one flush can gather (MQTT 5.0 section 3.1.2.11.3).
        properties.ReceiveMaximum = self._settings.receive_maximum
        return properties

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logfmt.log(log, logging.ERROR, "mqtt_refused", reason=str(reason_code))
            if not self._ready.is_set():
                self._failure = f"connection refused: {reason_code}"
                self._ready.set()
            return
        with self._lock:
            self._session += 1
            self._unacked.clear()
            self._live = True
        if self._ready.is_set():
            self.reconnects += 1
        logfmt.log(
            log,
            logging.INFO,
            "mqtt_connected",
            client_id=self._settings.client_id,
            session_present=flags.session_present,
            subscriptions=",".join(name for name, _ in self._settings.subscriptions),
        )
        # On every connect, not once: see the module docstring. One SUBSCRIBE, one SUBACK.
        subscriptions = self._settings.subscriptions
        if self._settings.protocol is MqttProtocol.V5:
            client.subscribe([(name, SubscribeOptions(qos)) for name, qos in subscriptions])
        else:
            client.subscribe(list(subscriptions))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [str(code) for code in reason_codes if code.is_failure]
        if failed:
            logfmt.log(log, logging.ERROR, "mqtt_subscribe_refused", reasons=",".join(failed))
            if not self._ready.is_set():
                self._failure = f"subscription refused: {', '.join(failed)}"
        self._ready.set()

    def _on_unsubscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._settled:
            self._unsubscribed.add(mid)
            self._settled.notify_all()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._settled:
            self._live = False
            self._settled.notify_all()
        if not self._stopping:
            logfmt.log(log, logging.WARNING, "mqtt_disconnected", reason=str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs on paho's network thread: enqueue and return, never block or raise.
        try:
            name = message.topic
        except UnicodeDecodeError:
            name = repr(message._topic)  # brokers reject such topics; kept for the record
        with self._lock:
            session = self._session
            if message.qos > 0:
                self._unacked.append((session, message.mid))
        self._messages.put(
            Message(
                topic=name,
                payload=bytes(message.payload),
                qos=message.qos,
                mid=message.mid,
                session=session,
                duplicate=bool(message.dup),
                received_at=utc_now(),
            )
        )
