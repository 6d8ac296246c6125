"""The readings decoder's fast path: it takes what ``encode`` writes and never disagrees.

``read_batch`` may decline anything (the full decoder then runs), but whatever it
returns, the full decoder must return too: tested on the golden batch, on every batch
Hypothesis can build, on mutations of every field and on arbitrary bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from devices.reading import Reading
from gateway.batch import decode_full
from gateway.contract import ContractError, ReadingsBatch, decode_readings, encode
from gateway.fast_path import BATCH_KEYS, READING_KEYS, BatchFields, read_batch
from tests.gateway.golden_payloads import GOLDEN, golden_bytes, golden_document
from tests.gateway.test_contract_properties import FUZZ, batches, json_values


def golden_batch() -> ReadingsBatch:
    batch = GOLDEN["readings_batch"]
    assert isinstance(batch, ReadingsBatch)
    return batch


GOLDEN_BATCH = golden_batch()
GOLDEN_BYTES = golden_bytes("readings_batch")


def full_or_none(data: bytes) -> ReadingsBatch | None:
    try:
        return decode_full(data)
    except ContractError:
        return None


def fast(data: bytes) -> ReadingsBatch | None:
    """The fast path's batch, built the validating way (so an invalid one would raise)."""
    found = read_batch(data)
    return None if found is None else ReadingsBatch(**found._asdict())


def agrees(data: bytes) -> bool:
    """The fast path declines, or returns what the full decoder returns."""
    found = fast(data)
    return found is None or found == full_or_none(data)


def spelled(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=True).encode()


def test_the_golden_batch_takes_the_fast_path():
    assert read_batch(GOLDEN_BYTES) == BatchFields(
        batch_id=GOLDEN_BATCH.batch_id,
        gateway_id=GOLDEN_BATCH.gateway_id,
        sent_at=GOLDEN_BATCH.sent_at,
        readings=GOLDEN_BATCH.readings,
    )


def test_the_known_keys_are_what_encode_writes():
    document = json.loads(encode(GOLDEN_BATCH))
    assert set(document) == BATCH_KEYS
    assert all(set(reading) == READING_KEYS for reading in document["readings"])
    assert BatchFields._fields == tuple(field.name for field in fields(ReadingsBatch))


@given(batches())
def test_every_encoded_batch_takes_the_fast_path_and_decodes_alike(batch):
    data = encode(batch)
    assert fast(data) == batch
    assert decode_full(data) == batch
    assert decode_readings(data) == batch


def with_reading_field(name: str, value: object) -> bytes:
    document = golden_document("readings_batch")
    document["readings"][0][name] = value
    return spelled(document)


# Bytes the full decoder accepts in a spelling encode never writes: the fast path declines
# them and decode_readings still returns the batch.
OTHER_SPELLINGS = [
    pytest.param(GOLDEN_BYTES.replace(b'"gw-0042"', b'"gw\\u002d0042"'), id="escaped-character"),
    pytest.param(GOLDEN_BYTES.replace(b'"value":120.0', b'"value":120'), id="integer-value"),
    pytest.param(GOLDEN_BYTES.replace(b'{"v":1,', b'{"v":1,"later":{"x":[1]},'), id="new-field"),
    pytest.param(with_reading_field("note", "hello"), id="new-reading-field"),
]


@pytest.mark.parametrize("data", OTHER_SPELLINGS)
def test_other_spellings_take_the_full_decoder(data):
    assert read_batch(data) is None
    assert decode_readings(data) == decode_full(data)


# Invalid bytes that parse as JSON with the known keys: the fast path must decline them
# all, so that the full decoder raises its precise error.
INVALID = [
    pytest.param(GOLDEN_BYTES.replace(b'{"v":1,', b'{"v":1,"v":1,'), id="repeated-batch-key"),
    pytest.param(
        GOLDEN_BYTES.replace(b'"kind":"spo2",', b'"kind":"spo2","kind":"spo2",'),
        id="repeated-reading-key-same-value",
    ),
    pytest.param(
        GOLDEN_BYTES.replace(b'"flags":["receive_time"],', b'"flags":[],"flags":["receive_time"],'),
        id="repeated-key-last-one-valid",
    ),
    pytest.param(GOLDEN_BYTES.replace(b'"value":97.0', b'"value":NaN'), id="nan"),
    pytest.param(GOLDEN_BYTES.replace(b'"value":97.0', b'"value":1e999'), id="overflow"),
    pytest.param(with_reading_field("kind", "glucose"), id="unknown-kind"),
    pytest.param(with_reading_field("unit", None), id="null-unit"),
    pytest.param(with_reading_field("flags", ["irregular_pulse"] * 2), id="flag-twice"),
    pytest.param(with_reading_field("flags", [["irregular_pulse"]]), id="flag-in-array"),
    pytest.param(with_reading_field("flags", ["no_such_flag"]), id="unknown-flag"),
    pytest.param(with_reading_field("user_id", 256), id="user-id-too-large"),
    pytest.param(with_reading_field("user_id", True), id="user-id-boolean"),
    pytest.param(with_reading_field("continuous", 1), id="continuous-integer"),
    pytest.param(with_reading_field("original_unit", None), id="original-value-alone"),
    pytest.param(with_reading_field("absent_reason", "not_a_number"), id="value-and-absent"),
    pytest.param(with_reading_field("measured_at", "2026-11-29T07:15:30Z"), id="short-instant"),
    pytest.param(with_reading_field("measured_at", "2026-02-30T07:15:30.000000Z"), id="no-date"),
    pytest.param(with_reading_field("device_time", "2026-11-29T08:15:30+01:00"), id="zoned"),
    pytest.param(with_reading_field("device_id", "-cuff"), id="bad-device-id"),
    pytest.param(with_reading_field("device_id", 7), id="device-id-number"),
    pytest.param(GOLDEN_BYTES.replace(b'"v":1', b'"v":2'), id="future-version"),
    pytest.param(GOLDEN_BYTES.replace(b'"v":1', b'"v":true'), id="version-boolean"),
    pytest.param(GOLDEN_BYTES.replace(b'"gw-0042"', b'"gw/0042"'), id="bad-gateway-id"),
    pytest.param(GOLDEN_BYTES.replace(b'"3f2b8c1e', b'"3F2B8C1E'), id="uppercase-batch-id"),
    pytest.param(
        GOLDEN_BYTES.replace(b'"value":64.0', b'"value":65.0').replace(
            b'"kind":"pulse_rate","value":65.0', b'"kind":"spo2","value":65.0'
        ),
        id="same-key-other-reading",
    ),
    pytest.param(
        GOLDEN_BYTES[: GOLDEN_BYTES.index(b'"readings":[') + 12] + b"]}", id="no-readings"
    ),
    pytest.param(GOLDEN_BYTES[:-1], id="truncated"),
    pytest.param(b"\xff" + GOLDEN_BYTES, id="not-utf-8"),
]


@pytest.mark.parametrize("data", INVALID)
def test_invalid_batches_take_the_full_decoder(data):
    assert read_batch(data) is None
    with pytest.raises(ContractError):
        decode_readings(data)


def test_a_batch_over_the_reading_limit_is_declined():
    document = golden_document("readings_batch")
    document["readings"] = [
        {**document["readings"][4], "measured_at": f"2026-11-29T07:{m:02d}:{s:02d}.000000Z"}
        for m in range(4)
        for s in range(60)
    ]
    assert read_batch(spelled(document)) is None
    assert full_or_none(spelled(document)) is None


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for key, item in value.items() for p in leaf_paths(item, (*path, key))]
    if isinstance(value, list):
        return [path] + [p for i, item in enumerate(value) for p in leaf_paths(item, (*path, i))]
    return [path]


GOLDEN_PATHS = leaf_paths(golden_document("readings_batch"))[1:]


@given(st.sampled_from(GOLDEN_PATHS), json_values, st.booleans())
def test_any_field_replaced_agrees(path, value, compact):
    document = golden_document("readings_batch")
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    data = spelled(document) if compact else json.dumps(document, allow_nan=True).encode()
    assert agrees(data)


@given(st.sampled_from(GOLDEN_PATHS), st.sampled_from(["value", "kind", "flags", "v", "x"]))
def test_any_key_repeated_or_added_is_declined(path, key):
    # "key":null inserted after the member at ``path``: a repeated key, an unknown one,
    # or one that belongs elsewhere. The fast path must leave each to the full decoder.
    document = golden_document("readings_batch")
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    assume(isinstance(parent, dict))
    member = json.dumps({path[-1]: parent[path[-1]]}, separators=(",", ":"))[1:-1]
    text = spelled(document).decode()
    assert member in text
    data = text.replace(member, f'{member},"{key}":null', 1).encode()
    assert read_batch(data) is None
    assert agrees(data)


@FUZZ
@given(st.binary(max_size=64), st.integers(0, len(GOLDEN_BYTES)), st.integers(0, 64))
def test_any_bytes_spliced_into_the_golden_batch_agree(patch, at, cut):
    assert agrees(GOLDEN_BYTES[:at] + patch + GOLDEN_BYTES[at + cut :])


@given(st.integers(0, len(GOLDEN_BYTES) - 1))
def test_any_quote_or_brace_doubled_agrees(at):
    data = GOLDEN_BYTES[:at] + GOLDEN_BYTES[at : at + 1] + GOLDEN_BYTES[at:]
    assert agrees(data)


@given(st.sampled_from(sorted(READING_KEYS)), st.sampled_from([None, math.inf, -0.0, 1, "", []]))
def test_each_reading_field_with_an_odd_value_agrees(name, value):
    assert agrees(with_reading_field(name, value))


def test_readings_built_on_the_fast_path_are_readings():
    found = read_batch(GOLDEN_BYTES)
    assert found is not None
    for reading in found.readings:
        assert type(reading) is Reading
        assert reading == Reading(**{f.name: getattr(reading, f.name) for f in fields(Reading)})
