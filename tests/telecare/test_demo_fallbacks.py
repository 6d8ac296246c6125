"""The demo's fallbacks (issue 8): amqtt for Mosquitto, pgserver's binaries for PostgreSQL.

Forced with the selection's variables, so they run on machines that have both.
"""

from __future__ import annotations

import queue
import threading
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.migrate import migrate
from ingest.service import IngestService
from ingest.settings import Broker, IngestSettings, MqttProtocol
from telecare.embedded.amqtt_broker import AmqttBroker
from telecare.embedded.postgres import PostgresCluster
from telecare.embedded.selection import (
    BROKER_VARIABLE,
    POSTGRES_VARIABLE,
    BrokerKind,
    PostgresKind,
    choose_broker,
    choose_postgres,
    pgserver_bindir,
)
from tests.ingest.gateway_double import TIMEOUT, GatewayDouble, stream, wait_until
from tests.ingest.seed import add_device, add_organization, add_patient, assign

_JOIN_TIMEOUT = 30.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({BROKER_VARIABLE: "amqtt"}, BrokerKind.AMQTT, id="forced-amqtt"),
        pytest.param({BROKER_VARIABLE: "Mosquitto"}, BrokerKind.MOSQUITTO, id="forced-mosquitto"),
    ],
)
def test_the_broker_variable_forces_a_kind(environ: dict[str, str], expected: BrokerKind) -> None:
    assert choose_broker(environ) == expected


def test_auto_prefers_the_machines_broker_and_postgres() -> None:
    # The test machine has both (scripts/system-deps).
    assert choose_broker({}) == BrokerKind.MOSQUITTO
    assert choose_postgres({})[0] == PostgresKind.SYSTEM


def test_the_postgres_variable_forces_pgserver() -> None:
    assert choose_postgres({POSTGRES_VARIABLE: "pgserver"}) == (
        PostgresKind.PGSERVER,
        pgserver_bindir(),
    )


def test_a_bad_choice_names_the_variable_and_the_choices() -> None:
    with pytest.raises(RuntimeError, match=r"TELECARE_DEMO_POSTGRES must be system \| pgserver"):
        choose_postgres({POSTGRES_VARIABLE: "sqlite"})


def test_amqtt_carries_a_paho_311_publish_to_a_subscriber(amqtt: AmqttBroker) -> None:
    received: queue.Queue[tuple[str, bytes | bytearray]] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="fallback-test", protocol=mqtt.MQTTv311
    )
    client.on_connect = lambda c, *_: c.subscribe("telecare/test/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, message: received.put((message.topic, message.payload))
    client.connect(amqtt.host, amqtt.port)
    client.loop_start()
    try:
        assert subscribed.wait(TIMEOUT)
        info = client.publish("telecare/test/one", b"hello", qos=1)
        info.wait_for_publish(TIMEOUT)
        assert received.get(timeout=TIMEOUT) == ("telecare/test/one", b"hello")
    finally:
        client.disconnect()
        client.loop_stop()


def test_ingest_on_mqtt_311_stores_a_batch_published_through_amqtt(
    amqtt: AmqttBroker, database_url: str
) -> None:
    settings = IngestSettings(
        database_url=database_url,
        broker=Broker.from_url(amqtt.url),
        client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        max_delay=0.1,
        protocol=MqttProtocol.V311,
    )
    service = IngestService(settings)
    stop = threading.Event()
    service.start()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    gateway = GatewayDouble(
        amqtt.host, amqtt.port, client_id="gw-double", gateway_ids=["gw-1"], protocol=mqtt.MQTTv311
    )
    try:
        gateway.publish(stream("gw-1", batches=3, size=5))
        wait_until(lambda: len(set(gateway.acked_batch_ids())) == 3, what="3 acked batches")
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT count(*) FROM readings").fetchone() == (15,)
    finally:
        gateway.close()
        stop.set()
        thread.join(_JOIN_TIMEOUT)
        service.close()
    assert not thread.is_alive()


def test_pgserver_takes_every_migration_and_holds_one_patient_per_device() -> None:
    # pgserver's wheel ships plpgsql (and pgvector) but no contrib modules: the schema
    # needs none, and the device assignment rule is a trigger, not btree_gist's EXCLUDE.
    _, bindir = choose_postgres({POSTGRES_VARIABLE: "pgserver"})
    cluster = PostgresCluster(bindir=bindir)
    try:
        cluster.init()
        cluster.start()
        migrate(cluster.url())
        with psycopg.connect(cluster.url()) as conn:
            extensions = conn.execute("SELECT extname FROM pg_extension").fetchall()
            assert extensions == [("plpgsql",)]
            org = add_organization(conn)
            first, second = add_patient(conn, org), add_patient(conn, org)
            add_device(conn, org, "cuff-1")
            assign(conn, "cuff-1", first, T0, T1)
            assign(conn, "cuff-1", second, T1)
            with pytest.raises(psycopg.errors.ExclusionViolation) as refused:
                assign(conn, "cuff-1", first, T1 + timedelta(days=1))
            assert refused.value.diag.constraint_name == "device_assignments_one_patient"
    finally:
        cluster.destroy()
