"""A stand-in gateway that speaks the status side of the contract, and status messages.

``StatusGateway`` connects with the gateway's Last Will (the retained offline status),
publishes retained statuses like the gateway does, and can die so that the broker
publishes the will: MQTT 5 DISCONNECT with reason code 0x04 "Disconnect with Will
Message" (MQTT 5.0 section 3.14.2.1), a crash on demand.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gateway.contract import DELIVERY, Channel, Status, encode, offline_status, topic
from ingest.consumer import Message
from tests.ingest.gateway_double import TIMEOUT

# MQTT 5.0 section 3.14.2.1: DISCONNECT reason code 4, "Disconnect with Will Message".
DISCONNECT_WITH_WILL = 0x04
STATUS = DELIVERY[Channel.STATUS]


def status_message(
    payload: bytes,
    *,
    gateway_id: str = "gw-1",
    session: int = 1,
    received_at: datetime = datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
) -> Message:
    """A status message as the consumer hands it to the service."""
    return Message(
        topic=topic(gateway_id, Channel.STATUS),
        payload=payload,
        qos=STATUS.qos,
        mid=1,
        session=session,
        duplicate=False,
        received_at=received_at,
    )


class StatusGateway:
    """One gateway's MQTT connection, as far as its status goes."""

    def __init__(self, host: str, port: int, *, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self._topic = topic(gateway_id, Channel.STATUS)
        self._connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{gateway_id}-double", protocol=mqtt.MQTTv5
        )
        self._client.will_set(
            self._topic, encode(offline_status(gateway_id)), qos=STATUS.qos, retain=True
        )
        self._client.on_connect = lambda *_: self._connected.set()
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._connected.wait(TIMEOUT):
            raise AssertionError("status gateway: no CONNACK")

    def publish(self, status: Status | bytes) -> None:
        """Publish retained at QoS 1 and wait for the PUBACK."""
        payload = status if isinstance(status, bytes) else encode(status)
        info = self._client.publish(self._topic, payload, qos=STATUS.qos, retain=STATUS.retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def die(self) -> None:
        """Go away so that the broker publishes the will."""
        reason = ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL)
        self._client.disconnect(reasoncode=reason)
        self._client.loop_stop()

    def close(self) -> None:
        """A clean disconnect: the broker drops the will."""
        self._client.disconnect()
        self._client.loop_stop()
