"""The MQTT link on a real Mosquitto: PUBACK reason codes, the will, TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.contract import Channel, topic
from gateway.mqtt import NO_CONNECTION, MqttLink, PublishOutcome, Will
from gateway.settings import MqttProtocol, MqttSettings
from tests.fixtures.mosquitto import free_port
from tests.gateway.harness import TIMEOUT, eventually, retained

DEPLOYED_ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"
# Readable, not writable, for anonymous clients (mosquitto.conf(5) acl_file).
READ_ONLY_ACL = "topic read denied/#\ntopic readwrite allowed/#\n"
# PUBACK reason codes, MQTT 5.0 section 3.4.2.1.
NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10


async def _link(url: str, *, protocol=MqttProtocol.V5, ca_file=None, messages=None):
    link = MqttLink(
        MqttSettings(url=url, protocol=protocol, ca_file=ca_file, reconnect_max_s=1),
        client_id="gw-link-test",
        will=Will(topic="allowed/will", payload=b"offline"),
        subscriptions=("allowed/in",),
        on_message=lambda name, payload: (messages if messages is not None else []).append(
            (name, payload)
        ),
    )
    link.start()
    return link


async def test_an_accepted_publish_and_a_subscription(mosquitto):
    messages: list[tuple[str, bytes]] = []
    link = await _link(mosquitto.url, messages=messages)
    try:
        await eventually(lambda: link.connected, what="the connection")
        outcome = await link.publish("allowed/out", b"x", wait_s=TIMEOUT)
        # 0x10 is a success code (below 0x80): the broker took it, nobody listens yet.
        assert outcome == PublishOutcome(
            accepted=True, reason_code=NO_MATCHING_SUBSCRIBERS, reason="No matching subscribers"
        )
        retained(mosquitto, "allowed/in", b"hello")
        await eventually(lambda: messages == [("allowed/in", b"hello")], what="the message")
    finally:
        await link.stop(wait_s=TIMEOUT)


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        pytest.param(
            MqttProtocol.V5,
            PublishOutcome(accepted=False, reason_code=NOT_AUTHORIZED, reason="Not authorized"),
            id="mqtt5-refusal-seen",
        ),
        # MQTT 3.1.1 PUBACKs carry no reason: Mosquitto acknowledges the denied publish
        # as if it had been accepted (reliability_security.md 0, finding 3).
        pytest.param(
            MqttProtocol.V311,
            PublishOutcome(accepted=True, reason_code=0, reason="Success"),
            id="mqtt311-refusal-hidden",
        ),
    ],
)
async def test_an_acl_denied_publish(tmp_path, mosquitto_factory, protocol, expected):
    acl = tmp_path / "acl"
    acl.write_text(READ_ONLY_ACL)
    broker = mosquitto_factory(extra=(f"acl_file {acl}",))
    link = await _link(broker.url, protocol=protocol)
    try:
        await eventually(lambda: link.connected, what="the connection")
        outcome = await link.publish("denied/readings", b"x", wait_s=TIMEOUT)
        assert outcome == expected
        assert outcome.refused is (protocol is MqttProtocol.V5)
    finally:
        await link.stop(wait_s=TIMEOUT)


async def test_no_broker_no_acceptance():
    link = await _link(f"mqtt://127.0.0.1:{free_port()}")
    try:
        outcome = await link.publish("allowed/out", b"x", wait_s=TIMEOUT)
        assert outcome.accepted is False
        assert outcome.reason_code == NO_CONNECTION
        assert not outcome.refused
    finally:
        await link.stop(wait_s=TIMEOUT)


async def test_a_clean_stop_leaves_the_last_word_retained(mosquitto):
    link = await _link(mosquitto.url)
    await eventually(lambda: link.connected, what="the connection")
    await link.stop(last=("allowed/will", b"stopped cleanly"), wait_s=TIMEOUT)
    assert retained(mosquitto, "allowed/will") == b"stopped cleanly"


_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _openssl(*arguments: object) -> None:
    subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)


def _ca(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate authority (openssl): its certificate and key."""
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    _openssl("req", "-x509", *_EC_KEY, "-keyout", ca_key, "-out", ca, "-days", "1",
             "-subj", "/CN=telecare test CA")  # fmt: skip
    return ca, ca_key


def _issue(directory: Path, ca: tuple[Path, Path], *, name: str, ip: bool) -> tuple[Path, Path]:
    """A certificate for ``name`` signed by ``ca``: (certificate, key)."""
    cert, key, csr = (directory / f"{name}.{ext}" for ext in ("pem", "key", "csr"))
    extensions = directory / f"{name}.ext"
    extensions.write_text(f"subjectAltName=IP:{name}\n" if ip else "basicConstraints=CA:FALSE\n")
    _openssl("req", *_EC_KEY, "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-out", cert, "-days", "1", "-extfile", extensions)  # fmt: skip
    return cert, key


def _tls_broker(mosquitto_factory, directory: Path, *, client_certificates: bool):
    ca = _ca(directory)
    cert, key = _issue(directory, ca, name="127.0.0.1", ip=True)
    port = free_port()
    broker = mosquitto_factory(
        extra=(
            f"listener {port} 127.0.0.1",
            f"cafile {ca[0]}",
            f"certfile {cert}",
            f"keyfile {key}",
            *(
                ("require_certificate true", "use_identity_as_username true")
                if client_certificates
                else ()
            ),
        )
    )
    return broker, port, ca


async def test_tls_with_a_private_ca(tmp_path, mosquitto_factory):
    broker, port, ca = _tls_broker(mosquitto_factory, tmp_path, client_certificates=False)
    link = await _link(f"mqtts://127.0.0.1:{port}", ca_file=ca[0])
    try:
        await eventually(lambda: link.connected, what="the TLS connection")
        outcome = await link.publish("allowed/out", b"x", wait_s=TIMEOUT)
        assert outcome.accepted
        assert "New client connected" in broker.log()
    finally:
        await link.stop(wait_s=TIMEOUT)


async def test_a_client_certificate_is_the_gateway_identity(tmp_path, mosquitto_factory):
    broker, port, ca = _tls_broker(mosquitto_factory, tmp_path, client_certificates=True)
    cert, key = _issue(tmp_path, ca, name="gw-0001", ip=False)
    link = MqttLink(
        MqttSettings(url=f"mqtts://127.0.0.1:{port}", ca_file=ca[0], cert_file=cert, key_file=key),
        client_id="gw-0001",
        will=Will(topic="allowed/will", payload=b"offline"),
        subscriptions=(),
        on_message=lambda name, payload: None,
    )
    link.start()
    try:
        await eventually(lambda: link.connected, what="the mutual-TLS connection")
        assert (await link.publish("allowed/out", b"x", wait_s=TIMEOUT)).accepted
        assert "u'gw-0001'" in broker.log()  # the certificate's CN is the user
    finally:
        await link.stop(wait_s=TIMEOUT)


def _password_file(directory: Path, *, user: str, password: str) -> Path:
    path = directory / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(path), user, password], check=True, capture_output=True
    )
    return path


async def test_the_deployed_acl_confines_a_gateway_to_its_own_topics(tmp_path, mosquitto_factory):
    passwords = _password_file(tmp_path, user="gw-0001", password="secret-1")
    broker = mosquitto_factory(
        allow_anonymous=False,
        extra=(f"password_file {passwords}", f"acl_file {DEPLOYED_ACL}"),
    )
    link = MqttLink(
        MqttSettings(url=f"mqtt://gw-0001:secret-1@{broker.host}:{broker.port}"),
        client_id="gw-0001",
        will=Will(topic=topic("gw-0001", Channel.STATUS), payload=b"offline"),
        subscriptions=(topic("gw-0001", Channel.ACK),),
        on_message=lambda name, payload: None,
    )
    link.start()
    try:
        await eventually(lambda: link.connected, what="the connection")
        own = await link.publish(topic("gw-0001", Channel.READINGS), b"x", wait_s=TIMEOUT)
        other = await link.publish(topic("gw-0002", Channel.READINGS), b"x", wait_s=TIMEOUT)
        assert own.accepted
        assert other.reason_code == NOT_AUTHORIZED
    finally:
        await link.stop(wait_s=TIMEOUT)
