"""The MQTT consumer against a real Mosquitto: sessions, manual acks, their order."""

from __future__ import annotations

import uuid

import pytest

from gateway.contract import Channel, topic
from ingest.consumer import BrokerUnavailableError, Consumer, Message
from ingest.settings import Broker, IngestSettings
from tests.fixtures.mosquitto import free_port
from tests.ingest.gateway_double import PROTOCOLS, wait_until


def settings_for(broker, **changes) -> IngestSettings:
    values = {
        "database_url": "postgresql://unused",
        "broker": Broker.from_url(broker.url),
        "client_id": f"consumer-{uuid.uuid4().hex[:8]}",
    }
    return IngestSettings(**{**values, **changes})


def receive(consumer: Consumer, count: int) -> list[Message]:
    messages: list[Message] = []

    def more() -> bool:
        message = consumer.get(0.05)
        if message is not None:
            messages.append(message)
        return len(messages) >= count

    wait_until(more, what=f"{count} messages")
    return messages


def publish(make_gateway, payloads: list[bytes], *, gateway_id: str = "gw-1", **where) -> None:
    gateway = make_gateway(gateway_id, **where)
    gateway.publish_raw((topic(gateway_id, Channel.READINGS), p) for p in payloads)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unacked_messages_come_back_to_the_same_client_id(protocol, mosquitto, make_gateway):
    settings = settings_for(mosquitto, protocol=protocol)
    first = Consumer(settings)
    first.start()
    publish(make_gateway, [b"%d" % n for n in range(10)])
    received = receive(first, 10)
    assert [m.payload for m in received] == [b"%d" % n for n in range(10)]
    assert first.ack(received[:4]) == 4
    first.stop()

    second = Consumer(settings)
    second.start()
    again = receive(second, 6)
    second.stop()
    assert [m.payload for m in again] == [b"%d" % n for n in range(4, 10)]
    assert all(m.duplicate for m in again)


def test_acks_must_follow_receive_order(mosquitto, make_gateway):
    consumer = Consumer(settings_for(mosquitto))
    consumer.start()
    publish(make_gateway, [b"a", b"b", b"c"])
    a, b, c = receive(consumer, 3)
    with pytest.raises(ValueError, match="receive order"):
        consumer.ack([b])
    assert consumer.ack([a, b]) == 2
    with pytest.raises(ValueError, match="receive order"):
        consumer.ack([a])
    assert consumer.ack([c]) == 1
    consumer.stop()


def test_messages_of_an_earlier_connection_are_not_acked(mosquitto, make_gateway):
    settings = settings_for(mosquitto)
    consumer = Consumer(settings)
    consumer.start()
    publish(make_gateway, [b"x"])
    (old,) = receive(consumer, 1)
    mosquitto.restart()  # graceful: the session survives in the persistence file
    (redelivered,) = receive(consumer, 1)
    assert redelivered.session == old.session + 1
    assert redelivered.duplicate
    assert consumer.ack([old, redelivered]) == 1
    consumer.stop()


def test_the_subscription_is_restored_when_the_session_is_gone(mosquitto_factory, make_gateway):
    broker = mosquitto_factory(persistence=False)
    consumer = Consumer(settings_for(broker))
    consumer.start()
    broker.restart()  # no persistence: session and subscription are gone
    wait_until(lambda: consumer.connected, what="reconnect")
    gateway = make_gateway("gw-1", broker=broker)
    # The resubscription races the publish; publish until the consumer has one.
    received: list[Message] = []

    def got_one() -> bool:
        gateway.publish_raw([(topic("gw-1", Channel.READINGS), b"after restart")])
        message = consumer.get(0.2)
        if message is not None:
            received.append(message)
        return bool(received)

    wait_until(got_one, what="a message after the broker restart")
    assert received[0].payload == b"after restart"
    consumer.stop()


def test_receive_maximum_bounds_unacked_messages(mosquitto, make_gateway):
    consumer = Consumer(settings_for(mosquitto, receive_maximum=5))
    consumer.start()
    publish(make_gateway, [b"%d" % n for n in range(12)])
    first = receive(consumer, 5)
    assert consumer.get(0.3) is None  # the broker waits for acks
    consumer.ack(first)
    rest = receive(consumer, 5)
    assert [m.payload for m in rest] == [b"%d" % n for n in range(5, 10)]
    consumer.ack(rest)
    consumer.stop()


def test_shared_subscription_members_split_the_stream(mosquitto, make_gateway):
    one = Consumer(settings_for(mosquitto, shared_group="ingest"))
    two = Consumer(settings_for(mosquitto, shared_group="ingest"))
    one.start()
    two.start()
    publish(make_gateway, [b"%d" % n for n in range(40)])
    seen: dict[str, list[bytes]] = {"one": [], "two": []}

    def all_seen() -> bool:
        for name, consumer in (("one", one), ("two", two)):
            message = consumer.get(0.01)
            if message is not None:
                seen[name].append(message.payload)
                consumer.ack([message])
        return len(seen["one"]) + len(seen["two"]) >= 40

    wait_until(all_seen, what="40 messages between two members")
    assert sorted(seen["one"] + seen["two"]) == sorted(b"%d" % n for n in range(40))
    assert seen["one"]
    assert seen["two"]
    one.stop()
    two.stop()


def test_an_unreachable_broker_fails_at_start():
    settings = IngestSettings(
        database_url="postgresql://unused",
        broker=Broker(host="127.0.0.1", port=free_port()),
        client_id="nobody-listens",
    )
    with pytest.raises(
        BrokerUnavailableError, match=r"cannot reach the MQTT broker mqtt://127\.0\.0\.1"
    ):
        Consumer(settings).start()


def test_a_refused_login_fails_at_start(mosquitto_factory, tmp_path):
    broker = mosquitto_factory(allow_anonymous=False)
    with pytest.raises(BrokerUnavailableError, match="refused"):
        Consumer(settings_for(broker)).start(timeout=5)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stop_waits_until_the_broker_has_handled_the_acks(
    protocol, mosquitto_factory, make_gateway
):
    # Under load, PUBACKs sent just before the DISCONNECT were lost and their messages
    # redelivered; stop now settles first. The broker's debug log shows the order it saw.
    broker = mosquitto_factory(extra=("log_type debug",))
    settings = settings_for(broker, protocol=protocol)
    consumer = Consumer(settings)
    consumer.start()
    publish(make_gateway, [b"%d" % n for n in range(6)], broker=broker)
    received = receive(consumer, 6)
    assert consumer.ack(received) == 6
    consumer.stop()

    client = settings.client_id
    seen = [line for line in broker.log().splitlines() if client in line]
    pubacks = [i for i, line in enumerate(seen) if f"Received PUBACK from {client}" in line]
    [unsuback] = [i for i, line in enumerate(seen) if f"Sending UNSUBACK to {client}" in line]
    [disconnect] = [
        i for i, line in enumerate(seen) if f"Received DISCONNECT from {client}" in line
    ]
    assert len(pubacks) == 6
    assert max(pubacks) < unsuback < disconnect
