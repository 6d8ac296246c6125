"""MQTT topics: one tree per gateway, four channels, nothing about patients.

    telecare/v1/gw/{gateway_id}/readings   gateway -> ingest   QoS 1
    telecare/v1/gw/{gateway_id}/status     gateway -> ingest   QoS 1, retained; LWT "offline"
    telecare/v1/gw/{gateway_id}/ack        ingest  -> gateway  QoS 1
    telecare/v1/gw/{gateway_id}/config     api     -> gateway  QoS 1, retained

The ``v1`` level is the topic layout's version; payloads carry their own ``v``.
A broker ACL gives each gateway its own tree with one pattern per channel
(``pattern write telecare/v1/gw/%u/readings``), which is why the gateway id is a whole
level and validated (``gateway.identifier``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from gateway.identifier import check_gateway_id, check_token
from gateway.wire import ContractError, shown

PREFIX = "telecare/v1/gw"
_PREFIX_LEVELS = tuple(PREFIX.split("/"))
# MQTT single-level wildcard (MQTT 5.0 section 4.7.1.3).
_ANY_GATEWAY = "+"
# Shared subscriptions: $share/{ShareName}/{filter} (MQTT 5.0 section 4.8.2).
_SHARE = "$share"


class Channel(StrEnum):
    """The last topic level; the value is the level itself."""

    READINGS = "readings"
    STATUS = "status"
    ACK = "ack"
    CONFIG = "config"


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """How messages on a channel are published."""

    qos: int
    retain: bool


# QoS 1 everywhere: at least once per hop, duplicates absorbed by batch ids and the
# idempotent store (ARCHITECTURE.md "Delivery"). Status and config are retained so a
# (re)connecting subscriber gets the latest at once.
DELIVERY: Mapping[Channel, Delivery] = MappingProxyType(
    {
        Channel.READINGS: Delivery(qos=1, retain=False),
        Channel.STATUS: Delivery(qos=1, retain=True),
        Channel.ACK: Delivery(qos=1, retain=False),
        Channel.CONFIG: Delivery(qos=1, retain=True),
    }
)


def topic(gateway_id: str, channel: Channel) -> str:
    """The topic of ``channel`` for one gateway."""
    check_gateway_id(gateway_id)
    return f"{PREFIX}/{gateway_id}/{_channel(channel)}"


def parse_topic(name: str) -> tuple[str, Channel]:
    """The gateway id and channel of a concrete topic; anything else is a ContractError."""
    levels = name.split("/")
    if len(levels) != len(_PREFIX_LEVELS) + 2 or tuple(levels[:-2]) != _PREFIX_LEVELS:
        raise ContractError(f"not a {PREFIX}/<gateway_id>/<channel> topic", field="topic")
    gateway_id, channel = levels[-2:]
    check_gateway_id(gateway_id, field="topic")
    return gateway_id, _channel(channel)


def subscription(channel: Channel, *, shared_group: str | None = None) -> str:
    """The filter for ``channel`` of every gateway, optionally as a shared subscription."""
    pattern = f"{PREFIX}/{_ANY_GATEWAY}/{_channel(channel)}"
    if shared_group is None:
        return pattern
    check_token(shared_group, field="shared_group")
    return f"{_SHARE}/{shared_group}/{pattern}"


def check_topic_gateway(gateway_id: str, topic_gateway_id: str | None) -> None:
    """A payload's gateway id must be its topic's: one gateway cannot speak for another."""
    if topic_gateway_id is not None and gateway_id != topic_gateway_id:
        raise ContractError(
            f"{shown(gateway_id)} differs from the topic's {shown(topic_gateway_id)}",
            field="gateway_id",
        )


def _channel(value: str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise ContractError(f"unknown channel {shown(value)}", field="topic") from None
