"""Delivery through the whole gateway: outbox, publisher, broker, app-level ack.

Each test counts per reading, as the trusted harnesses do (reliability_security.md 1.6
and 7, T3-T5, T7): every produced reading stored, none twice, each device in order.
The ingest here is ``StubIngest`` (idempotent store, ack after "commit");
test_end_to_end.py runs the real ingest and PostgreSQL.
"""

from __future__ import annotations

import json
import signal

import pytest

from devices.reading import Reading
from gateway.contract import (
    Channel,
    DeviceAssignment,
    GatewayConfig,
    GatewayFlag,
    GatewayState,
    RemoteSettings,
    decode_status,
    encode,
    topic,
)
from gateway.event import EventKind
from gateway.settings import MqttProtocol
from tests.gateway import gateway_process
from tests.gateway.harness import (
    EPOCH,
    TIMEOUT,
    collecting,
    eventually,
    in_device_order,
    interleaved,
    key,
    retained,
    settings_for_test,
    spo2_readings,
    start_process,
    systolic_readings,
    wait_until,
)

OXIMETER = "C0:00:00:00:00:01"
CUFF = "C0:00:00:00:00:02"
# An ACL for anonymous clients in which the readings topic may be read, not written:
# the gateway's publish is refused, everything else works (mosquitto.conf(5) acl_file).
READ_ONLY_READINGS_ACL = """\
topic read telecare/v1/gw/+/readings
topic readwrite telecare/v1/gw/+/status
topic readwrite telecare/v1/gw/+/config
topic readwrite telecare/v1/gw/+/ack
"""


def mixed(count: int) -> list[Reading]:
    return interleaved(
        spo2_readings(OXIMETER, count - count // 2), systolic_readings(CUFF, count // 2)
    )


async def test_readings_reach_ingest_and_leave_the_outbox(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    produced = mixed(200)
    running = await start_gateway(settings_for_test(tmp_path, mosquitto), collecting(produced))

    await eventually(lambda: ingest.has_all(produced), what="every reading stored")
    await eventually(lambda: running.gateway.outbox.depth() == 0, what="an empty outbox")

    assert ingest.count() == len(produced)
    assert in_device_order(ingest.first_arrival_order())
    assert {ingest.stored[key(r)] for r in produced} == set(produced)


async def test_broker_unreachable_for_a_while_then_back(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()  # its persistent session outlives the broker's graceful stop
    mosquitto.stop()
    produced = mixed(1000)
    running = await start_gateway(settings_for_test(tmp_path, mosquitto), collecting(produced))
    await eventually(
        lambda: running.gateway.outbox.depth() == len(produced), what="1000 readings held"
    )
    assert ingest.count() == 0

    mosquitto.start()

    await eventually(lambda: ingest.has_all(produced), what="every reading delivered")
    await eventually(lambda: running.gateway.outbox.depth() == 0, what="an empty outbox")
    assert ingest.count() == len(produced)
    assert in_device_order(ingest.first_arrival_order())


def test_gateway_killed_mid_publish_loses_and_doubles_nothing(tmp_path, mosquitto, stub_ingest):
    # Slow acks keep the gateway publishing long enough to be killed in the middle.
    ingest = stub_ingest(ack_delay=0.005)
    produced = gateway_process.readings(1000)
    first = start_process(tmp_path, mosquitto, len(produced), held_before_publishing=True)
    try:
        wait_until(lambda: ingest.count() >= 150, what="the first batches to arrive")
        first.send_signal(signal.SIGKILL)
        first.wait(TIMEOUT)
    finally:
        first.kill()
    assert ingest.count() < len(produced), "the gateway finished before it was killed"

    second = start_process(tmp_path, mosquitto, 0)
    try:
        wait_until(lambda: ingest.has_all(produced), what="every reading after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(TIMEOUT)

    assert ingest.count() == len(produced)
    # Nothing doubled: a reading travels in one batch, whatever was resent; ingest's
    # idempotent store absorbs the resends of that batch.
    assert all(len(ids) == 1 for ids in ingest.batch_ids_per_key().values())
    assert in_device_order(ingest.first_arrival_order())


async def test_broker_killed_mid_stream_every_reading_arrives_once(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    produced = mixed(1000)
    settings = settings_for_test(tmp_path, mosquitto, batch_size=20)
    await start_gateway(settings, collecting(produced, chunk=10, pause=0.01))
    await eventually(lambda: ingest.count() >= 200, what="part of the stream")

    # SIGKILL: Mosquitto loses everything since its last autosave, acknowledged or not.
    mosquitto.kill()
    mosquitto.start()

    await eventually(lambda: ingest.has_all(produced), what="every reading after the crash")
    assert ingest.count() == len(produced)
    assert all(len(ids) == 1 for ids in ingest.batch_ids_per_key().values())


@pytest.mark.parametrize(
    ("protocol", "refusal_seen"),
    [
        pytest.param(MqttProtocol.V5, True, id="mqtt5"),
        pytest.param(MqttProtocol.V311, False, id="mqtt311"),
    ],
)
async def test_acl_denied_publish_keeps_the_readings(
    tmp_path, mosquitto_factory, stub_ingest, start_gateway, protocol, refusal_seen
):
    acl = tmp_path / "acl"
    acl.write_text(READ_ONLY_READINGS_ACL)
    broker = mosquitto_factory(extra=(f"acl_file {acl}",))
    ingest = stub_ingest(broker)
    produced = mixed(30)
    settings = settings_for_test(
        tmp_path, broker, protocol=protocol, ack_timeout_s=0.2, resend_max_s=0.4
    )
    running = await start_gateway(settings, collecting(produced))
    gateway = running.gateway

    await eventually(
        lambda: (
            gateway.outbox.counts().batches > 0 and all(b.attempts >= 2 for b in _batches(gateway))
        ),
        what="every batch published and resent",
    )

    assert gateway.outbox.depth() == len(produced)  # nothing counted as sent
    assert ingest.count() == 0
    refused = [e for e in gateway.events if e.kind is EventKind.PUBLISH_REFUSED]
    assert bool(refused) is refusal_seen
    if refusal_seen:
        assert "Not authorized" in refused[0].detail


def _batches(gateway):
    return [gateway.outbox.batch(batch_id) for batch_id, _ in gateway.outbox.pending_batches()]


async def test_outbox_full_drops_the_oldest_samples_never_spot_readings(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    ingest = stub_ingest()
    mosquitto.stop()
    samples = spo2_readings(OXIMETER, 300)
    spot = systolic_readings(CUFF, 20)
    produced = interleaved(samples, spot)
    settings = settings_for_test(tmp_path, mosquitto, capacity=100)
    running = await start_gateway(settings, collecting(produced, chunk=1))
    gateway = running.gateway
    await eventually(lambda: gateway.outbox.counts().dropped > 0, what="the outbox to fill")
    await eventually(
        lambda: gateway.outbox.counts().dropped + gateway.outbox.depth() == len(produced),
        what="every reading stored or dropped",
    )

    counts = gateway.outbox.counts()
    assert (counts.depth, counts.dropped, counts.refused, counts.full) == (100, 220, 0, True)
    assert [e.kind for e in gateway.events] == [EventKind.OUTBOX_FULL]
    # The status it would publish now carries the flag for the fleet.
    assert decode_status(gateway._status(GatewayState.ONLINE)[1]).flags == {GatewayFlag.OUTBOX_FULL}

    mosquitto.start()
    await eventually(lambda: ingest.count() == 100, what="what the outbox held")
    newest_samples = samples[-80:]
    assert ingest.has_all(spot)
    assert ingest.has_all(newest_samples)
    await eventually(lambda: gateway.outbox.depth() == 0, what="the last ack")
    assert gateway.outbox.counts().full is False
    assert decode_status(gateway._status(GatewayState.ONLINE)[1]).flags == frozenset()


async def test_rejected_batch_leaves_the_outbox_with_an_event(
    tmp_path, mosquitto, stub_ingest, start_gateway
):
    stub_ingest(reject=True)
    running = await start_gateway(settings_for_test(tmp_path, mosquitto), collecting(mixed(10)))
    gateway = running.gateway
    await eventually(
        lambda: gateway.event_counts[EventKind.BATCH_REJECTED] > 0, what="the rejection"
    )
    await eventually(lambda: gateway.outbox.depth() == 0, what="an empty outbox")
    assert "refused by the test" in gateway.events[-1].detail


async def test_config_sets_the_allowlist_and_survives_a_restart(tmp_path, mosquitto, start_gateway):
    settings = settings_for_test(tmp_path, mosquitto)
    config = GatewayConfig(
        gateway_id=settings.gateway_id,
        issued_at=EPOCH,
        devices=(DeviceAssignment(device_id=CUFF, profile="sig-blood-pressure"),),
        settings=RemoteSettings(max_connections=1, scan_interval_s=7),
    )
    retained(mosquitto, topic(settings.gateway_id, Channel.CONFIG), encode(config))
    running = await start_gateway(settings, collecting([]))

    await eventually(lambda: CUFF in running.gateway.allowlist(), what="the config")
    assert running.gateway.allowlist() == {CUFF: "sig-blood-pressure"}
    assert (running.gateway.max_connections(), running.gateway.scan_interval()) == (1, 7.0)
    await running.stop()

    mosquitto.stop()  # offline start: the stored config stands in
    again = await start_gateway(settings, collecting([]))
    await eventually(lambda: again.gateway.allowlist() == {CUFF: "sig-blood-pressure"}, what="")


async def test_status_online_with_depth_then_offline_after_a_clean_stop(
    tmp_path, mosquitto, start_gateway
):
    settings = settings_for_test(tmp_path, mosquitto)
    status_topic = topic(settings.gateway_id, Channel.STATUS)
    mosquitto.stop()
    running = await start_gateway(settings, collecting(mixed(10)))
    await eventually(lambda: running.gateway.outbox.depth() == 10, what="readings held")
    mosquitto.start()

    def online() -> bool:
        payload = retained(mosquitto, status_topic)
        return payload is not None and decode_status(payload).state is GatewayState.ONLINE

    await eventually(online, what="a retained online status")
    status = decode_status(retained(mosquitto, status_topic) or b"")
    assert status.software_version == "0.0.0-test"
    assert status.outbox_depth is not None

    await running.stop()
    final = decode_status(retained(mosquitto, status_topic) or b"")
    assert final.state is GatewayState.OFFLINE


def test_killed_gateway_leaves_its_will(tmp_path, mosquitto):
    process = start_process(tmp_path, mosquitto, 0)
    status_topic = topic("gw-killed", Channel.STATUS)
    try:
        wait_until(lambda: _state(mosquitto, status_topic) is GatewayState.ONLINE, what="online")
        process.send_signal(signal.SIGKILL)
        process.wait(TIMEOUT)
    finally:
        process.kill()
    wait_until(lambda: _state(mosquitto, status_topic) is GatewayState.OFFLINE, what="the will")
    assert json.loads(retained(mosquitto, status_topic) or b"{}")["at"] is None


def _state(broker, name):
    payload = retained(broker, name)
    return None if payload is None else decode_status(payload).state
