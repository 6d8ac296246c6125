"""Publishing to the broker: the api's only paho import.

The api publishes one kind of message: a gateway's config (device allowlist and
settings), retained on ``telecare/v1/gw/{id}/config`` with QoS 1 so the gateway gets
the latest at once whenever it connects (gateway/topic.py DELIVERY). Pushes are rare,
so each opens its own short connection, waits for the PUBACK and checks its reason code
(paho reports a refused publish as published; reliability_security.md 0), then
disconnects. It speaks MQTT 5 unless the settings say 3.1.1 (``TELECARE_MQTT_PROTOCOL``,
as for ingest and the gateways: the demo's amqtt broker knows only 3.1.1), whose PUBACK
carries no reason code, so there a PUBACK is the acceptance. Blocking: callers run it
on a worker thread.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from api.errors import UnavailableError
from gateway.contract import DELIVERY, Channel, GatewayConfig, encode, topic
from ingest.settings import Broker, MqttProtocol

# Seconds to connect and to get the PUBACK; a broker on the same network answers in ms.
TIMEOUT_S = 10.0
# MQTT 5.0 section 2.4: reason codes from 0x80 are failures (paho maps a 3.1.1 CONNACK
# return code onto them, and reports 0 for a 3.1.1 PUBACK).
FAILURE = 0x80
_PROTOCOLS = {MqttProtocol.V5: paho.MQTTv5, MqttProtocol.V311: paho.MQTTv311}


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    topic: str
    payload: bytes


def publish_config(
    broker: Broker,
    config: GatewayConfig,
    *,
    protocol: MqttProtocol = MqttProtocol.V5,
    timeout: float = TIMEOUT_S,
) -> Published:
    """Publish ``config`` retained on its gateway's config topic; raise if not accepted."""
    name = topic(config.gateway_id, Channel.CONFIG)
    payload = encode(config)
    delivery = DELIVERY[Channel.CONFIG]
    connected = threading.Event()
    acknowledged = threading.Event()
    outcome: dict[str, int] = {}

    def on_connect(
        client: paho.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        outcome["connect"] = reason.value
        connected.set()

    def on_publish(
        client: paho.Client, userdata: object, mid: int, reason: ReasonCode, props: object
    ) -> None:
        outcome["publish"] = reason.value
        acknowledged.set()

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"telecare-api-{uuid.uuid4().hex[:12]}",
        protocol=_PROTOCOLS[protocol],
    )
    client.on_connect = on_connect
    client.on_publish = on_publish
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    try:
        client.connect(broker.host, broker.port)
    except OSError as exc:
        raise UnavailableError(f"cannot reach the MQTT broker: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout) or outcome["connect"] >= FAILURE:
            raise UnavailableError("the MQTT broker refused or did not answer the connection")
        client.publish(name, payload, qos=delivery.qos, retain=delivery.retain)
        if not acknowledged.wait(timeout):
            raise UnavailableError("the MQTT broker did not acknowledge the config")
        if outcome["publish"] >= FAILURE:
            raise UnavailableError(
                f"the MQTT broker refused the config (reason {outcome['publish']:#x})"
            )
    finally:
        client.disconnect()
        client.loop_stop()
    return Published(topic=name, payload=payload)
