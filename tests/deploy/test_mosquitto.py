"""The production Mosquitto config and ACL, on a real broker with TLS and passwords."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gateway.contract import MAX_PAYLOAD_BYTES, Channel, encode, offline_status, topic
from ingest.settings import DEFAULT_RECEIVE_MAXIMUM
from tests.deploy.broker import (
    CONFIG,
    SERVICE_PASSWORDS,
    Certificates,
    add_service_users,
    env_file,
    make_certificates,
    production_config,
    provision,
    settings_of,
)
from tests.fixtures.mosquitto import BrokerConfig, Mosquitto, free_port

TIMEOUT = 10.0
# MQTT 5.0 reason codes: 3.2.2.2 (CONNACK), 3.4.2.1 (PUBACK), 3.9.3 (SUBACK).
NOT_AUTHORIZED = 0x87
GRANTED_QOS_1 = 0x01
NO_MATCHING_SUBSCRIBERS = 0x10
DISCONNECT_WITH_WILL = 0x04
# An MQTT 3.1.1 CONNECT, clean session, keepalive 60 s, client id "plain" (section 3.1),
# and the CONNACK packet type a broker speaking plain MQTT would answer with (3.2).
PLAIN_CONNECT = b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05plain"
CONNACK = 0x20


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductionBroker:
    broker: Mosquitto
    tls_port: int
    certificates: Certificates
    # gateway id -> its password, as provision-gateway wrote it to gateway.env.
    gateway_passwords: dict[str, str]

    @property
    def plain_port(self) -> int:
        return self.broker.port


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionBroker]:
    directory = tmp_path_factory.mktemp("production-broker")
    certificates = make_certificates(directory / "certs")
    password_file = directory / "passwd"
    tls_port = free_port()
    passwords = {}
    for gateway_id in ("gw-1", "gw-2"):
        done = provision(
            gateway_id,
            directory=directory,
            password_file=password_file,
            broker=f"127.0.0.1:{tls_port}",
            ca_file=certificates.ca,
        )
        assert done.returncode == 0, done.stderr
        url = env_file(directory / gateway_id / "gateway.env")["TELECARE_MQTT_URL"]
        passwords[gateway_id] = url.split("@")[0].rsplit(":", 1)[1]
    add_service_users(password_file)
    broker = Mosquitto(directory / "broker", port=free_port(), config=BrokerConfig())
    broker.config_path.write_text(
        production_config(
            tls_port=tls_port,
            plain_port=broker.port,
            directory=broker.directory,
            certificates=certificates,
            password_file=password_file,
            log_file=broker.log_path,
        )
    )
    broker.start()
    yield ProductionBroker(
        broker=broker, tls_port=tls_port, certificates=certificates, gateway_passwords=passwords
    )
    broker.kill()


class Client:
    """A paho MQTT 5 client that reports reason codes instead of hiding them."""

    def __init__(
        self,
        port: int,
        *,
        user: str | None,
        password: str | None,
        ca: Path | None = None,
        will: tuple[str, bytes] | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._answers: dict[str, threading.Event] = {}
        self._codes: dict[str, Any] = {}
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{user or 'anonymous'}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        if user is not None:
            client.username_pw_set(user, password)
        if ca is not None:
            client.tls_set(ca_certs=str(ca))
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = lambda c, u, f, code, p: self._answer("connect", code.value)
        client.on_publish = lambda c, u, mid, code, p: self._answer(f"publish-{mid}", code.value)
        client.on_subscribe = lambda c, u, mid, codes, p: self._answer(
            f"subscribe-{mid}", [code.value for code in codes]
        )
        client.on_message = self._on_message
        self._client = client
        self._waiting("connect")
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.connack = self._wait("connect")

    def publish(self, name: str, payload: bytes = b"x", *, retain: bool = False) -> int:
        """The PUBACK reason code."""
        info = self._client.publish(name, payload, qos=1, retain=retain)
        self._waiting(f"publish-{info.mid}")
        return int(self._wait(f"publish-{info.mid}"))

    def subscribe(self, *names: str) -> list[int]:
        """The SUBACK reason codes, one per filter."""
        _, mid = self._client.subscribe([(name, 1) for name in names])
        self._waiting(f"subscribe-{mid}")
        return list(self._wait(f"subscribe-{mid}"))

    def received(self, count: int) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return sorted(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"{count} messages expected, got {self.messages}")

    def die(self) -> None:
        """Leave so that the broker publishes the will (MQTT 5.0 section 3.14.2.1)."""
        reason = ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL)
        self._client.disconnect(reasoncode=reason)
        self._client.loop_stop()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _waiting(self, key: str) -> None:
        # The answer may come first (paho's network thread): then its event is there.
        self._answers.setdefault(key, threading.Event())

    def _answer(self, key: str, code: Any) -> None:
        with self._lock:
            self._codes[key] = code
            self._answers.setdefault(key, threading.Event()).set()

    def _wait(self, key: str) -> Any:
        if not self._answers[key].wait(TIMEOUT):
            raise AssertionError(f"no answer to {key}")
        return self._codes[key]

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))


@pytest.fixture
def connect(production: ProductionBroker) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(user: str | None, password: str | None = None, *, tls: bool = True, **options):
        if user is not None and password is None:
            password = SERVICE_PASSWORDS.get(user) or production.gateway_passwords[user]
        client = Client(
            production.tls_port if tls else production.plain_port,
            user=user,
            password=password,
            ca=production.certificates.ca if tls else None,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_the_production_settings_are_what_the_delivery_design_needs():
    settings = settings_of(CONFIG.read_text())
    assert settings["persistence"] == ["true"]
    # Far below the default of 1800 s: a crash loses at most this much broker state.
    assert int(settings["autosave_interval"][0]) <= 60
    # The default of 1000 drops messages silently; ingest offline must not lose them.
    assert int(settings["max_queued_messages"][0]) >= 100_000
    assert int(settings["max_queued_bytes"][0]) > 0
    # An MQTT 3.1.1 ingest gets as large a window as an MQTT 5 one asks for.
    assert int(settings["max_inflight_messages"][0]) >= DEFAULT_RECEIVE_MAXIMUM
    assert settings["message_size_limit"] == [str(MAX_PAYLOAD_BYTES)]
    assert settings["listener"] == ["8883", "1883 127.0.0.1"]  # plain on loopback only
    assert settings["tls_version"] == ["tlsv1.2"]
    assert settings["allow_anonymous"] == ["false"]
    assert "per_listener_settings" not in settings  # logins apply to both listeners


def test_a_gateway_publishes_to_its_own_topics_only(connect):
    gateway = connect("gw-1")
    assert gateway.connack == 0
    own = [topic("gw-1", channel) for channel in (Channel.READINGS, Channel.STATUS)]
    assert [gateway.publish(name) for name in own] == [NO_MATCHING_SUBSCRIBERS] * 2
    assert gateway.publish(topic("gw-2", Channel.READINGS)) == NOT_AUTHORIZED
    assert gateway.publish(topic("gw-2", Channel.STATUS)) == NOT_AUTHORIZED
    assert gateway.publish(topic("gw-1", Channel.ACK)) == NOT_AUTHORIZED  # ingest's to send
    assert gateway.publish(topic("gw-1", Channel.CONFIG)) == NOT_AUTHORIZED  # the api's
    assert gateway.publish("telecare/v1/gw/gw-1/readings/extra") == NOT_AUTHORIZED


def test_a_gateway_receives_its_own_ack_and_config_only(connect):
    gateway = connect("gw-1")
    gateway.subscribe(topic("gw-1", Channel.ACK), topic("gw-1", Channel.CONFIG))
    # Mosquitto 2.0's acl_file grants any SUBSCRIBE and checks "read" on every delivery
    # instead: subscribed to everything, a gateway still gets nothing of another's.
    snoop = connect("gw-2")
    assert snoop.subscribe("#", "telecare/v1/gw/+/readings") == [GRANTED_QOS_1] * 2
    ingest = connect("ingest", tls=False)
    api = connect("api", tls=False)
    other = connect("gw-1")
    assert other.publish(topic("gw-1", Channel.READINGS), b"readings") < 0x80
    assert other.publish(topic("gw-1", Channel.STATUS), b"status") < 0x80
    for gateway_id in ("gw-1", "gw-2"):
        assert ingest.publish(topic(gateway_id, Channel.ACK), f"ack {gateway_id}".encode()) < 0x80
        config = f"config {gateway_id}".encode()
        assert api.publish(topic(gateway_id, Channel.CONFIG), config, retain=True) < 0x80
    assert gateway.received(2) == [
        (topic("gw-1", Channel.ACK), b"ack gw-1"),
        (topic("gw-1", Channel.CONFIG), b"config gw-1"),
    ]
    # Everything above was routed before this last ack: had the snoop been sent any of
    # it, it would be here before the ack.
    assert ingest.publish(topic("gw-2", Channel.ACK), b"last") < 0x80
    assert snoop.received(3) == [
        (topic("gw-2", Channel.ACK), b"ack gw-2"),
        (topic("gw-2", Channel.ACK), b"last"),
        (topic("gw-2", Channel.CONFIG), b"config gw-2"),
    ]


def test_ingest_reads_every_gateways_readings_and_status_and_the_will(connect):
    ingest = connect("ingest", tls=False)
    assert ingest.subscribe(
        "$share/ingest/telecare/v1/gw/+/readings", "telecare/v1/gw/+/status"
    ) == [GRANTED_QOS_1, GRANTED_QOS_1]
    will = (topic("gw-2", Channel.STATUS), encode(offline_status("gw-2")))
    one, two = connect("gw-1"), connect("gw-2", will=will)
    one.publish(topic("gw-1", Channel.READINGS), b"batch-1")
    two.publish(topic("gw-2", Channel.READINGS), b"batch-2")
    two.die()
    assert ingest.received(3) == [
        (topic("gw-1", Channel.READINGS), b"batch-1"),
        (topic("gw-2", Channel.READINGS), b"batch-2"),
        will,
    ]
    # Ingest may not speak for a gateway, nor configure one.
    assert ingest.publish(topic("gw-1", Channel.READINGS)) == NOT_AUTHORIZED
    assert ingest.publish(topic("gw-1", Channel.CONFIG)) == NOT_AUTHORIZED


@pytest.mark.parametrize(
    ("user", "password", "tls", "code"),
    [
        pytest.param(None, None, True, NOT_AUTHORIZED, id="anonymous-over-tls"),
        pytest.param(None, None, False, NOT_AUTHORIZED, id="anonymous-on-loopback"),
        pytest.param("gw-1", "guessed", True, NOT_AUTHORIZED, id="wrong-password"),
        pytest.param("gw-3", "anything", True, NOT_AUTHORIZED, id="unknown-user"),
        pytest.param("ingest", "guessed", False, NOT_AUTHORIZED, id="wrong-service-password"),
    ],
)
def test_who_is_refused(connect, user, password, tls, code):
    # Mosquitto 2.0 answers a bad password with "not authorized" too, not with 0x86.
    assert connect(user, password, tls=tls).connack == code


def test_plain_mqtt_gets_no_answer_on_the_tls_listener(production):
    with socket.create_connection(("127.0.0.1", production.tls_port), timeout=TIMEOUT) as sock:
        sock.sendall(PLAIN_CONNECT)
        try:
            answer = sock.recv(4)
        except ConnectionResetError:
            answer = b""
    assert answer[:1] != bytes([CONNACK])


def test_retained_statuses_survive_a_broker_restart(production, connect):
    status = encode(offline_status("gw-1"))
    gateway = connect("gw-1")
    assert gateway.publish(topic("gw-1", Channel.STATUS), status, retain=True) < 0x80
    gateway.close()
    production.broker.restart()  # SIGTERM: the broker saves its database
    ingest = connect("ingest", tls=False)
    ingest.subscribe(topic("gw-1", Channel.STATUS))
    assert ingest.received(1) == [(topic("gw-1", Channel.STATUS), status)]
    assert "Permission denied" not in production.broker.log()
