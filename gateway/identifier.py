"""The identifiers that reach MQTT topics and payloads, and what they may contain.

A gateway id becomes a topic level and the username a broker ACL pattern substitutes
(``pattern write telecare/v1/gw/%u/readings``), so it must be exactly one level with no
wildcard in it: ``+`` or ``#`` in a client id or username is the injection behind
CVE-2017-7650 (Mosquitto's ``auth_plugin_deny_special_chars``), ``/`` would add levels,
and a substituted pattern "must be the only text for that level of hierarchy"
(mosquitto.conf(5), ``pattern``; eclipse/mosquitto man/mosquitto.conf.5.xml). Ids are
therefore ASCII letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit
(no hidden ``.``/``-`` names, no NUL, no look-alike letters from other scripts), 1-64
characters. Device ids may also hold ``:`` for BLE addresses ("AA:BB:CC:DD:EE:FF").
Patient identifiers never appear in topics: brokers log them.
"""

from __future__ import annotations

import re
import uuid

from gateway.limits import MAX_ID_LENGTH
from gateway.wire import ContractError, shown

GATEWAY_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_LENGTH - 1}}}")
DEVICE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_ID_LENGTH - 1}}}")
# Shared-subscription group names ($share/<group>/...) and catalog profile keys are
# single topic-safe tokens too.
TOKEN = GATEWAY_ID
# A batch id is a UUID in its canonical lowercase 8-4-4-4-12 form (RFC 9562 section 4).
BATCH_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _check(pattern: re.Pattern[str], value: str, *, field: str | None, what: str) -> None:
    if not pattern.fullmatch(value):
        raise ContractError(f"{shown(value)} is not a valid {what}", field=field)


def check_gateway_id(value: str, *, field: str | None = "gateway_id") -> None:
    _check(GATEWAY_ID, value, field=field, what="gateway id")


def check_device_id(value: str, *, field: str | None = "device_id") -> None:
    _check(DEVICE_ID, value, field=field, what="device id")


def check_token(value: str, *, field: str | None) -> None:
    _check(TOKEN, value, field=field, what="name")


def check_batch_id(value: str, *, field: str | None = "batch_id") -> None:
    _check(BATCH_ID, value, field=field, what="batch id (lowercase UUID)")


def new_batch_id() -> str:
    """A fresh batch id; the gateway stores it with the batch so resends reuse it."""
    return str(uuid.uuid4())
