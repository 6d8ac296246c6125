"""Property tests of the MQTT contract: round trips, and nothing but ContractError."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from gateway.contract import (
    DEVICE_ID,
    GATEWAY_ID,
    MAX_DEVICES_PER_GATEWAY,
    MAX_LABEL_LENGTH,
    MAX_REASON_LENGTH,
    SETTING_BOUNDS,
    Ack,
    ContractError,
    DeviceAssignment,
    DeviceStatus,
    GatewayConfig,
    GatewayState,
    Payload,
    ReadingsBatch,
    Rejection,
    RemoteSettings,
    Status,
    decode_ack,
    decode_config,
    decode_readings,
    decode_status,
    encode,
    salvage_batch_id,
)
from tests.gateway.golden_payloads import GOLDEN, golden_document

DECODERS = (decode_readings, decode_ack, decode_status, decode_config)
DECODER_OF: dict[type, Callable[..., Payload]] = {
    ReadingsBatch: decode_readings,
    Ack: decode_ack,
    Status: decode_status,
    GatewayConfig: decode_config,
}
# Inputs here can reach 256 KiB; their time is not what is under test.
FUZZ = settings(deadline=None)

gateway_ids = st.from_regex(GATEWAY_ID, fullmatch=True)
device_ids = st.from_regex(DEVICE_ID, fullmatch=True)
batch_ids = st.uuids().map(str)
instants = st.datetimes(timezones=st.just(UTC))
finite = st.floats(allow_nan=False, allow_infinity=False)
# Free text as the contract allows it: anything but control characters and surrogates.
label_chars = st.characters(exclude_categories=("Cc", "Cs"))


@st.composite
def readings(draw):
    absent_reason = draw(st.none() | st.sampled_from(AbsentReason))
    original = draw(st.none() | st.tuples(finite, st.sampled_from(Unit)))
    return Reading(
        device_id=draw(device_ids),
        kind=draw(st.sampled_from(Kind)),
        value=None if absent_reason else draw(finite | st.integers(-(10**6), 10**6)),
        unit=draw(st.sampled_from(Unit)),
        measured_at=draw(instants),
        device_time=draw(st.none() | st.datetimes()),
        flags=draw(st.frozensets(st.sampled_from(Flag))),
        absent_reason=absent_reason,
        original_value=None if original is None else original[0],
        original_unit=None if original is None else original[1],
        user_id=draw(st.none() | st.integers(0, 255)),
        continuous=draw(st.booleans()),
    )


@st.composite
def batches(draw):
    distinct = draw(
        st.lists(
            readings(),
            min_size=1,
            max_size=12,
            unique_by=lambda reading: (reading.device_id, reading.kind, reading.measured_at),
        )
    )
    # Now and then a device re-sends a reading it sent before, unchanged.
    repeats = draw(st.lists(st.sampled_from(distinct), max_size=2))
    return ReadingsBatch(
        batch_id=draw(batch_ids),
        gateway_id=draw(gateway_ids),
        sent_at=draw(instants),
        readings=(*distinct, *repeats),
    )


@st.composite
def acks(draw):
    named = draw(st.lists(batch_ids, min_size=1, max_size=20, unique=True))
    split = draw(st.integers(0, len(named)))
    reasons = st.text(label_chars, min_size=1, max_size=MAX_REASON_LENGTH)
    return Ack(
        gateway_id=draw(gateway_ids),
        batch_ids=tuple(named[:split]),
        committed_at=draw(instants),
        rejected=tuple(
            Rejection(batch_id=batch_id, reason=draw(reasons)) for batch_id in named[split:]
        ),
    )


device_statuses = st.builds(
    DeviceStatus,
    device_id=device_ids,
    battery=st.none() | st.integers(0, 100),
    rssi=st.none() | st.integers(-127, 20),
    last_seen=st.none() | instants,
    firmware=st.none() | st.text(label_chars, min_size=1, max_size=MAX_LABEL_LENGTH),
)


@st.composite
def statuses(draw):
    state = draw(st.sampled_from(GatewayState))
    required = st.just if state is GatewayState.ONLINE else (lambda s: st.none() | st.just(s))
    return Status(
        gateway_id=draw(gateway_ids),
        state=state,
        at=draw(instants.flatmap(required)),
        software_version=draw(
            st.text(label_chars, min_size=1, max_size=MAX_LABEL_LENGTH).flatmap(required)
        ),
        outbox_depth=draw(st.integers(0, 2**31 - 1).flatmap(required)),
        devices=tuple(
            draw(
                st.lists(
                    device_statuses,
                    max_size=MAX_DEVICES_PER_GATEWAY,
                    unique_by=lambda device: device.device_id,
                )
            )
        ),
    )


configs = st.builds(
    GatewayConfig,
    gateway_id=gateway_ids,
    issued_at=instants,
    devices=st.lists(
        st.builds(
            DeviceAssignment,
            device_id=device_ids,
            profile=st.none() | st.from_regex(GATEWAY_ID, fullmatch=True),
        ),
        max_size=8,
        unique_by=lambda device: device.device_id,
    ).map(tuple),
    settings=st.builds(
        RemoteSettings,
        **{name: st.integers(low, high) for name, (low, high) in SETTING_BOUNDS.items()},
    ),
)

payloads = batches() | acks() | statuses() | configs

# Any JSON document, NaN tokens included (json.dumps writes float("nan") as NaN).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def decode_or_contract_error(decode: Callable[[bytes], Payload], data: bytes) -> Payload | None:
    """The decoder's result, or None for ContractError; anything else propagates."""
    try:
        return decode(data)
    except ContractError:
        return None


@given(payloads)
def test_encode_then_decode_gives_back_the_payload(payload):
    data = encode(payload)
    decoded = DECODER_OF[type(payload)](data, topic_gateway_id=payload.gateway_id)
    assert decoded == payload
    assert encode(decoded) == data


@given(batches())
def test_a_decodable_batch_names_its_own_id_for_salvage(batch):
    assert salvage_batch_id(encode(batch)) == batch.batch_id


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_payload_or_a_contract_error(data):
    for decode in DECODERS:
        decode_or_contract_error(decode, data)
    assert salvage_batch_id(data) is None or isinstance(salvage_batch_id(data), str)


@FUZZ
@given(json_values)
def test_arbitrary_json_gives_a_payload_or_a_contract_error(document):
    data = json.dumps(document).encode()
    for decode in DECODERS:
        decode_or_contract_error(decode, data)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path to a value inside a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated_goldens(draw):
    """A golden payload with one field, anywhere in it, replaced by any JSON or removed."""
    name = draw(st.sampled_from(sorted(GOLDEN)))
    document = golden_document(name)
    path = draw(st.sampled_from([path for path in _paths(document) if path]))
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if draw(st.booleans()):
        target[path[-1]] = draw(json_values)
    elif isinstance(target, dict):
        del target[path[-1]]
    else:
        target.pop(path[-1])
    return type(GOLDEN[name]), json.dumps(document).encode()


@FUZZ
@given(mutated_goldens())
def test_any_damaged_field_gives_a_payload_or_a_contract_error(case):
    payload_type, data = case
    decoded = decode_or_contract_error(DECODER_OF[payload_type], data)
    if decoded is not None:
        # Whatever got through is a valid payload that encodes again.
        assert DECODER_OF[payload_type](encode(decoded)) == decoded
