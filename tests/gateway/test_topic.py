"""MQTT topics and the identifiers that go into them."""

from __future__ import annotations

import pytest

from gateway.contract import (
    DELIVERY,
    Channel,
    ContractError,
    Delivery,
    check_device_id,
    check_gateway_id,
    new_batch_id,
    parse_topic,
    subscription,
    topic,
)
from gateway.identifier import BATCH_ID

# Ids a gateway or device may have: letters, digits, '.', '_', '-', up to 64 characters.
VALID_GATEWAY_IDS = ["gw-0042", "g", "0", "GW_7.home-1", "a" * 64]
# Every one must fail: wildcards and level separators (CVE-2017-7650 and friends), the
# empty and the over-long, control characters, hidden names, and Unicode look-alikes.
INJECTIONS = [
    pytest.param("+", id="plus"),
    pytest.param("#", id="hash"),
    pytest.param("gw/1", id="slash"),
    pytest.param("gw+", id="trailing-plus"),
    pytest.param("gw#1", id="inner-hash"),
    pytest.param("", id="empty"),
    pytest.param("a" * 65, id="65-chars"),
    pytest.param("gw\x00", id="nul"),
    pytest.param("gw-1\n", id="trailing-newline"),
    pytest.param("gw 1", id="space"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("-rf", id="leading-dash"),
    pytest.param("$SYS", id="dollar"),
    pytest.param("\uff47\uff57\uff11", id="fullwidth"),
    pytest.param("g\u0432-1", id="cyrillic-ve"),
    pytest.param("gw\u200b1", id="zero-width-space"),
    pytest.param("\u212a", id="kelvin-sign"),
    pytest.param("gw\u22151", id="division-slash"),
    pytest.param("gw:1", id="colon-not-in-gateway-ids"),
    pytest.param("%u", id="acl-substitution"),
]


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (Channel.READINGS, "telecare/v1/gw/gw-0042/readings"),
        (Channel.STATUS, "telecare/v1/gw/gw-0042/status"),
        (Channel.ACK, "telecare/v1/gw/gw-0042/ack"),
        (Channel.CONFIG, "telecare/v1/gw/gw-0042/config"),
    ],
)
def test_topic_per_channel(channel, expected):
    assert topic("gw-0042", channel) == expected
    assert parse_topic(expected) == ("gw-0042", channel)


@pytest.mark.parametrize("gateway_id", VALID_GATEWAY_IDS)
def test_valid_gateway_ids_round_trip_through_a_topic(gateway_id):
    assert parse_topic(topic(gateway_id, Channel.STATUS)) == (gateway_id, Channel.STATUS)


@pytest.mark.parametrize("gateway_id", INJECTIONS)
def test_topic_refuses_every_injection(gateway_id):
    with pytest.raises(ContractError) as caught:
        topic(gateway_id, Channel.READINGS)
    assert caught.value.field == "gateway_id"


@pytest.mark.parametrize("gateway_id", INJECTIONS)
def test_parse_topic_refuses_every_injection(gateway_id):
    with pytest.raises(ContractError) as caught:
        parse_topic(f"telecare/v1/gw/{gateway_id}/readings")
    assert caught.value.field == "topic"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("telecare/v1/gw/+/readings", id="wildcard-filter"),
        pytest.param("telecare/v1/gw/#", id="multi-level-filter"),
        pytest.param("telecare/v2/gw/gw-1/readings", id="other-layout-version"),
        pytest.param("telecare/v1/gw/gw-1/readings/extra", id="extra-level"),
        pytest.param("telecare/v1/gw/gw-1", id="no-channel"),
        pytest.param("telecare/v1/gw/gw-1/", id="empty-channel"),
        pytest.param("/telecare/v1/gw/gw-1/readings", id="leading-slash"),
        pytest.param("telecare/v1/gw//readings", id="empty-gateway-level"),
        pytest.param("telecare/v1/gw/gw-1/Readings", id="channel-case"),
        pytest.param("telecare/v1/gw/gw-1/commands", id="unknown-channel"),
        pytest.param("$share/ingest/telecare/v1/gw/gw-1/readings", id="shared-filter"),
        pytest.param("$SYS/broker/uptime", id="sys-topic"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_topic_refuses_anything_but_a_concrete_contract_topic(name):
    with pytest.raises(ContractError) as caught:
        parse_topic(name)
    assert caught.value.field == "topic"


def test_topic_refuses_an_unknown_channel():
    with pytest.raises(ContractError, match="unknown channel 'commands'"):
        topic("gw-1", "commands")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("channel", "group", "expected"),
    [
        (Channel.READINGS, None, "telecare/v1/gw/+/readings"),
        (Channel.STATUS, None, "telecare/v1/gw/+/status"),
        (Channel.READINGS, "ingest", "$share/ingest/telecare/v1/gw/+/readings"),
        (Channel.STATUS, "ingest-2.eu_1", "$share/ingest-2.eu_1/telecare/v1/gw/+/status"),
    ],
)
def test_subscription(channel, group, expected):
    assert subscription(channel, shared_group=group) == expected


@pytest.mark.parametrize("group", INJECTIONS)
def test_subscription_refuses_a_bad_group_name(group):
    with pytest.raises(ContractError) as caught:
        subscription(Channel.READINGS, shared_group=group)
    assert caught.value.field == "shared_group"


def test_delivery_per_channel():
    assert dict(DELIVERY) == {
        Channel.READINGS: Delivery(qos=1, retain=False),
        Channel.STATUS: Delivery(qos=1, retain=True),
        Channel.ACK: Delivery(qos=1, retain=False),
        Channel.CONFIG: Delivery(qos=1, retain=True),
    }


@pytest.mark.parametrize(
    "device_id", ["AA:BB:CC:DD:EE:FF", "a4:c1:38:00:00:01", "SN-12345", "dev.1_a", "D" * 64]
)
def test_device_ids_may_be_ble_addresses(device_id):
    check_device_id(device_id)


@pytest.mark.parametrize(
    "device_id",
    [pytest.param(p.values[0], id=p.id) for p in INJECTIONS if p.id != "colon-not-in-gateway-ids"]
    + [pytest.param(":AA:BB", id="leading-colon")],
)
def test_device_ids_refuse_every_injection(device_id):
    with pytest.raises(ContractError) as caught:
        check_device_id(device_id, field="readings[0].device_id")
    assert caught.value.field == "readings[0].device_id"


def test_the_error_quotes_a_long_id_briefly():
    with pytest.raises(ContractError) as caught:
        check_gateway_id("x" * 100_000)
    assert len(caught.value.reason) < 120


def test_new_batch_ids_are_canonical_and_fresh():
    ids = {new_batch_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(BATCH_ID.fullmatch(batch_id) for batch_id in ids)
