"""The ingest service end to end: real Mosquitto, real PostgreSQL, the service on a thread."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import psycopg
import pytest

from devices.reading import Kind
from gateway.contract import MAX_PAYLOAD_BYTES, Channel, encode, topic
from ingest.consumer import Consumer, Message
from ingest.metrics import Metrics
from ingest.service import BACKLOG_FLUSHES, IngestService
from tests.ingest.gateway_double import (
    PROTOCOLS,
    batch,
    interleave,
    reading,
    stream,
    wait_until,
)


def test_a_stream_is_stored_exactly_once_and_every_batch_acked(
    make_settings, start_ingest, make_gateway, count
):
    ingest = start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=40, size=25)
    gateway.publish(batches)
    wait_until(lambda: len(gateway.acked_batch_ids()) == 40, what="40 acked batches")
    assert count("readings") == 1000
    assert sorted(gateway.acked_batch_ids()) == sorted(b.batch_id for b in batches)
    metrics = ingest.service.metrics()
    assert (metrics.received, metrics.stored, metrics.batches, metrics.acked) == (40, 1000, 40, 40)
    assert (metrics.duplicates, metrics.conflicts, metrics.dead_letters) == (0, 0, 0)


def test_replays_store_nothing_new_and_a_changed_value_is_a_conflict(
    make_settings, start_ingest, make_gateway, count, database_url
):
    ingest = start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=10, size=10)
    gateway.publish(batches)
    wait_until(lambda: count("readings") == 100, what="100 readings")
    # Every batch three more times, interleaved, then one changed value under a stored key.
    gateway.publish([b for _ in range(3) for b in batches])
    changed = batch("gw-1", [reading("gw-1-oximeter", 5, value=88.0)])
    gateway.publish([changed])
    wait_until(lambda: changed.batch_id in gateway.acked_batch_ids(), what="the changed batch")
    assert count("readings") == 100
    with psycopg.connect(database_url) as conn:
        conflicts = conn.execute(
            "SELECT device_id, kind, kept_value, value FROM reading_conflicts"
        ).fetchall()
        kept = conn.execute(
            "SELECT value FROM readings WHERE device_id = 'gw-1-oximeter' AND measured_at = %s",
            (changed.readings[0].measured_at,),
        ).fetchone()
    assert conflicts == [("gw-1-oximeter", "spo2", 97.0, 88.0)]
    assert kept == (97.0,)
    metrics = ingest.service.metrics()
    assert (metrics.stored, metrics.duplicates, metrics.conflicts) == (100, 300, 1)


def _malformed(gateway_id: str) -> dict[str, tuple[str, bytes]]:
    """Payloads that must be dead-lettered, by what is wrong with them."""
    good = encode(batch(gateway_id, [reading("dev-x", 1)]))
    obj = json.loads(good)
    readings_topic = topic(gateway_id, Channel.READINGS)

    def variant(**changes: object) -> bytes:
        return json.dumps({**obj, **changes}).encode()

    unknown_kind = dict(obj["readings"][0], kind="blood_glucose")
    nan_value = good.replace(b'"value":97.0', b'"value":NaN')
    assert nan_value != good
    return {
        "garbage": (readings_topic, b"\x00\xffnot json at all"),
        "truncated": (readings_topic, good[: len(good) // 2]),
        "wrong_version": (readings_topic, variant(v=99)),
        "oversized": (readings_topic, b" " * (MAX_PAYLOAD_BYTES + 1)),
        "unknown_kind": (readings_topic, variant(readings=[unknown_kind])),
        "nan_value": (readings_topic, nan_value),
        "other_gateway": (readings_topic, variant(gateway_id="gw-other")),
        "bad_topic": ("telecare/v1/gw/bad!id/readings", good),
    }


def test_malformed_payloads_are_dead_lettered_and_the_stream_goes_on(
    make_settings, start_ingest, make_gateway, count, database_url
):
    ingest = start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    before, after = stream("gw-1", batches=2, size=5)
    malformed = _malformed("gw-1")
    gateway.publish([before])
    gateway.publish_raw(malformed.values())
    gateway.publish_raw(malformed.values())  # a resent poison is one row, counted twice
    gateway.publish([after])
    wait_until(lambda: count("readings") == 10, what="both valid batches")
    wait_until(lambda: ingest.service.metrics().dead_letters == 16, what="16 dead letters")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT topic, gateway_id, payload, payload_size, occurrences, error "
            "FROM dead_letters ORDER BY id"
        ).fetchall()
    assert [(row[0], row[1], row[4]) for row in rows] == [
        (name, None if name.startswith("telecare/v1/gw/bad") else "gw-1", 2)
        for name, _ in malformed.values()
    ]
    # Kept byte for byte, up to the contract's size limit (payload_size tells the rest).
    assert [bytes(row[2]) for row in rows] == [
        payload[:MAX_PAYLOAD_BYTES] for _, payload in malformed.values()
    ]
    assert [row[3] for row in rows] == [len(payload) for _, payload in malformed.values()]
    assert all(row[5] for row in rows)
    # Poison that still names its batch is rejected for good; the gateway stops resending.
    salvageable = {
        json.loads(malformed[name][1])["batch_id"] for name in ("unknown_kind", "other_gateway")
    }
    wait_until(lambda: set(gateway.rejected_batch_ids()) == salvageable, what="rejections")
    committed = {before.batch_id, after.batch_id}
    wait_until(lambda: set(gateway.acked_batch_ids()) == committed, what="the valid batches")


def test_implausible_readings_are_quarantined_not_stored(
    make_settings, start_ingest, make_gateway, count, database_url
):
    ingest = start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    mixed = batch(
        "gw-1",
        [
            reading("dev-1", 0, value=97.0),
            reading("dev-1", 1, value=104.0),
            reading("dev-1", 2, kind=Kind.PULSE_RATE, value=400.0),
        ],
    )
    gateway.publish([mixed, mixed])
    wait_until(lambda: gateway.acked_batch_ids().count(mixed.batch_id) >= 1, what="the ack")
    wait_until(lambda: ingest.service.metrics().received == 2, what="both deliveries")
    wait_until(lambda: ingest.service.metrics().acked == 2, what="both acked")
    with psycopg.connect(database_url) as conn:
        quarantined = conn.execute(
            "SELECT kind, value, reason FROM quarantined_readings ORDER BY kind"
        ).fetchall()
    assert quarantined == [
        ("pulse_rate", 400.0, "pulse_out_of_range"),
        ("spo2", 104.0, "spo2_above_100"),
    ]
    assert count("readings") == 1
    assert ingest.service.metrics().quarantined == 2


def test_the_app_ack_comes_only_after_the_commit(
    make_settings, start_ingest, make_gateway, database_url
):
    start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    visible_at_ack: list[tuple[str, int]] = []

    def on_ack(ack) -> None:  # runs when the gateway receives the ack
        with psycopg.connect(database_url, autocommit=True) as conn:
            for batch_id in ack.batch_ids:
                found = conn.execute(
                    "SELECT count(*) FROM readings WHERE batch_id = %s", (batch_id,)
                ).fetchone()
                assert found is not None
                visible_at_ack.append((batch_id, found[0]))

    gateway.on_ack = on_ack
    batches = stream("gw-1", batches=30, size=20)
    gateway.publish(batches)
    wait_until(lambda: len(visible_at_ack) == 30, what="30 acked batches")
    assert sorted(visible_at_ack) == sorted((b.batch_id, 20) for b in batches)


class RecordingConsumer(Consumer):
    """Records what it hands out and what it is asked to ack, flush by flush; at each
    PUBACK, how many readings of the message's batch are committed (own connection)."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.received: list[Message] = []
        self.acked_in_order: list[Message] = []
        self.flushes: list[int] = []  # messages acked per call, one call per flush
        self.committed_at_puback: list[int] = []
        self._record_lock = threading.Lock()

    def received_count(self) -> int:
        with self._record_lock:
            return len(self.received)

    def get(self, timeout: float) -> Message | None:
        message = super().get(timeout)
        if message is not None:
            with self._record_lock:
                self.received.append(message)
        return message

    def ack(self, messages) -> int:
        messages = list(messages)
        with psycopg.connect(self._settings.database_url, autocommit=True) as conn:
            committed = [committed_readings(conn, message) for message in messages]
        with self._record_lock:
            self.acked_in_order.extend(messages)
            self.flushes.append(len(messages))
            self.committed_at_puback.extend(committed)
        return super().ack(messages)


def committed_readings(conn: psycopg.Connection, message: Message) -> int:
    found = conn.execute(
        "SELECT count(*) FROM readings WHERE batch_id = %s",
        (json.loads(message.payload)["batch_id"],),
    ).fetchone()
    assert found is not None
    return int(found[0])


def run_on_thread(service: IngestService, stop: threading.Event) -> threading.Thread:
    service.start()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    return thread


def stop_thread(service: IngestService, stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(30)
    service.close()
    assert not thread.is_alive()


def test_messages_are_acked_in_receive_order_after_their_commit(make_settings, make_gateway, count):
    settings = make_settings(batch_size=100)
    consumer = RecordingConsumer(settings)
    service = IngestService(settings, consumer=consumer)
    stop = threading.Event()
    thread = run_on_thread(service, stop)
    try:
        gateway = make_gateway("gw-1", "gw-2")
        gateway.publish(interleave(*(stream(gw, batches=25, size=8) for gw in ("gw-1", "gw-2"))))
        wait_until(lambda: service.metrics().acked == 50, what="50 acks")
    finally:
        stop_thread(service, stop, thread)
    assert consumer.acked_in_order == consumer.received
    assert consumer.committed_at_puback == [8] * 50
    assert service.metrics().commits > 1  # several flushes, each acked in turn
    assert count("readings") == 400


def test_the_loop_receives_on_while_a_flush_commits_up_to_the_bound(
    make_settings, make_gateway, count, database_url
):
    # Every message fills a flush (10 readings, batch size 10). The first flush's COPY
    # waits on a lock the test holds; meanwhile the loop takes exactly as many messages
    # as the bound lets wait, acks nothing, and sends them all as the next flush.
    settings = make_settings(batch_size=10)
    bound = BACKLOG_FLUSHES  # messages of batch_size readings that may wait
    consumer = RecordingConsumer(settings)
    service = IngestService(settings, consumer=consumer)
    stop = threading.Event()
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=20, size=10)
    with psycopg.connect(database_url) as blocker:
        blocker.execute("LOCK TABLE readings IN SHARE MODE")  # no COPY or INSERT gets by
        thread = run_on_thread(service, stop)
        try:
            gateway.publish(batches)
            wait_until(
                lambda: consumer.received_count() == 1 + bound, what="the first flush and the bound"
            )
            assert consumer.acked_in_order == []
            assert gateway.acked_batch_ids() == []
            blocker.rollback()
            wait_until(lambda: service.metrics().acked == 20, what="20 acks")
        finally:
            blocker.rollback()
            stop_thread(service, stop, thread)
    assert consumer.flushes[:2] == [1, bound]
    assert max(consumer.flushes) <= bound
    assert sum(consumer.flushes) == 20
    assert consumer.acked_in_order == consumer.received
    assert consumer.committed_at_puback == [10] * 20
    assert count("readings") == 200


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_both_protocols_store_and_ack(protocol, make_settings, start_ingest, make_gateway, count):
    # MQTT 3.1.1 has no Receive Maximum: Mosquitto's window of 20 holds the rest back
    # until acks come, which the idle flush provides.
    start_ingest(make_settings(protocol=protocol))
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=100, size=5)
    gateway.publish(batches)
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 100, what="100 acked batches")
    assert count("readings") == 500


def test_two_processes_in_a_shared_group_split_the_stream_exactly(
    make_settings, start_ingest, make_gateway, count
):
    first = start_ingest(make_settings(shared_group="ingest"))
    second = start_ingest(make_settings(shared_group="ingest"))
    gateways = [f"gw-{n}" for n in range(4)]
    gateway = make_gateway(*gateways)
    batches = [b for gw in gateways for b in stream(gw, batches=25, size=10)]
    gateway.publish(batches)
    wait_until(lambda: count("readings") == 1000, what="1000 readings")
    wait_until(lambda: len(set(gateway.acked_batch_ids())) == 100, what="100 acked batches")
    one, two = first.service.metrics(), second.service.metrics()
    assert one.received + two.received == 100
    assert one.stored + two.stored == 1000
    assert one.received > 0
    assert two.received > 0


def test_a_message_the_database_refuses_is_dead_lettered_alone(
    make_settings, start_ingest, make_gateway, count, database_url
):
    with psycopg.connect(database_url) as conn:
        # Stands in for any data error (SQLSTATE class 23) the database raises.
        conn.execute("ALTER TABLE readings ADD CONSTRAINT no_42 CHECK (value <> 42)")
    ingest = start_ingest(make_settings(max_delay=1.0))
    gateway = make_gateway("gw-1")
    good = stream("gw-1", batches=3, size=4)
    refused = batch("gw-1", [reading("dev-2", 0, value=42.0)])
    gateway.publish([good[0], refused, good[1], good[2]])
    wait_until(lambda: count("readings") == 12, what="the good readings")
    wait_until(lambda: refused.batch_id in gateway.rejected_batch_ids(), what="the rejection")
    with psycopg.connect(database_url) as conn:
        errors = conn.execute("SELECT error FROM dead_letters").fetchall()
    assert len(errors) == 1
    assert errors[0][0].startswith("database refused: CheckViolation")
    assert ingest.service.metrics().dead_letters == 1


def test_metrics_add_up(make_settings, start_ingest, make_gateway):
    ingest = start_ingest(make_settings())
    gateway = make_gateway("gw-1")
    batches = stream("gw-1", batches=4, size=5)
    gateway.publish(batches)
    gateway.publish(batches[:1])
    gateway.publish_raw([(topic("gw-1", Channel.READINGS), b"junk")])
    gateway.publish([batch("gw-1", [reading("dev-9", 0, value=120.0)])])
    wait_until(lambda: ingest.service.metrics().acked == 7, what="7 acks")
    metrics = ingest.service.metrics()
    assert metrics.last_commit_at is not None
    assert metrics.lag_seconds is not None
    assert replace(metrics, last_commit_at=None, lag_seconds=None, commits=0) == Metrics(
        received=7,
        redelivered=0,
        stored=20,
        duplicates=5,
        conflicts=0,
        quarantined=1,
        dead_letters=1,
        batches=6,
        commits=0,
        database_errors=0,
        acked=7,
        acks_published=metrics.acks_published,
    )
