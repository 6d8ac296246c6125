"""The MQTT payload contract: golden bytes, every class of malformed payload, limits."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import gateway.contract
from devices.reading import Flag, Kind, Reading, Unit
from gateway.contract import (
    MAX_ACK_ENTRIES,
    MAX_DEVICES_PER_GATEWAY,
    MAX_ID_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_READINGS_PER_BATCH,
    MAX_REASON_LENGTH,
    Ack,
    ContractError,
    DeviceAssignment,
    DeviceStatus,
    GatewayConfig,
    GatewayFlag,
    GatewayState,
    ReadingsBatch,
    Rejection,
    Status,
    decode_ack,
    decode_config,
    decode_readings,
    decode_status,
    encode,
    new_batch_id,
    offline_status,
    salvage_batch_id,
)
from tests.gateway.golden_payloads import (
    BATCH_ID,
    GATEWAY_ID,
    GOLDEN,
    READINGS_BATCH,
    golden_bytes,
    golden_document,
)

DECODERS = {
    "readings_batch": decode_readings,
    "ack": decode_ack,
    "status_online": decode_status,
    "status_offline": decode_status,
    "config": decode_config,
}
AT = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
DELETE = object()


def mutated(name: str, path: str, value: object) -> bytes:
    """Golden payload ``name`` with the field at ``path`` ("readings[2].kind") replaced."""
    document = golden_document(name)
    keys = [int(key) if key.isdigit() else key for key in re.findall(r"[^.\[\]]+", path)]
    target: Any = document
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return json.dumps(document, allow_nan=True).encode()


# --- golden files -------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN)
def test_encode_gives_the_golden_bytes(name):
    assert encode(GOLDEN[name]) == golden_bytes(name)


@pytest.mark.parametrize("name", GOLDEN)
def test_decode_of_the_golden_bytes_gives_the_object(name):
    assert DECODERS[name](golden_bytes(name), topic_gateway_id=GATEWAY_ID) == GOLDEN[name]


def test_the_golden_folder_holds_exactly_the_golden_payloads():
    folder = Path(__file__).parent / "golden"
    assert {path.stem for path in folder.glob("*.json")} == set(GOLDEN)
    assert "needs a new payload version `v`" in (folder / "README.md").read_text()


def test_the_offline_will_carries_only_the_state():
    assert offline_status("gw-7") == Status(
        gateway_id="gw-7",
        state=GatewayState.OFFLINE,
        at=None,
        software_version=None,
        outbox_depth=None,
        devices=(),
    )


# --- malformed payloads: each class with its precise field --------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b'{"v":1,', "payload is not JSON", id="truncated-json"),
        pytest.param(b"", "payload is not JSON", id="empty"),
        pytest.param(b"\xff\xfe{}", "payload is not UTF-8", id="not-utf8"),
        pytest.param(b'\xef\xbb\xbf{"v":1}', "payload is not JSON", id="utf8-bom"),
        pytest.param(b"[1,2]", "payload must be a JSON object", id="array"),
        pytest.param(b'"readings"', "payload must be a JSON object", id="string"),
        pytest.param(b"null", "payload must be a JSON object", id="null"),
        pytest.param(b'{"v":NaN}', "NaN is not a JSON number", id="nan-token"),
        pytest.param(b'{"v":1,"x":Infinity}', "Infinity is not a JSON number", id="inf"),
        pytest.param(b'{"v":-Infinity}', "-Infinity is not a JSON number", id="neg-inf"),
        pytest.param(b"[" * 100_000, "payload is not JSON", id="nested-too-deep"),
        pytest.param(b'{"v":1' + b"0" * 5000 + b"}", "payload is not JSON", id="huge-integer"),
        pytest.param(
            b" " * MAX_PAYLOAD_BYTES + b"{}",
            f"payload is {MAX_PAYLOAD_BYTES + 2} bytes, over the {MAX_PAYLOAD_BYTES} limit",
            id="oversized",
        ),
    ],
)
@pytest.mark.parametrize("decode", set(DECODERS.values()), ids=lambda decode: decode.__name__)
def test_payloads_that_are_not_one_json_object_are_refused_as_a_whole(decode, data, reason):
    with pytest.raises(ContractError) as caught:
        decode(data)
    assert caught.value.field is None
    assert caught.value.reason.startswith(reason)


def test_size_is_checked_before_parsing():
    # Invalid JSON, but over the limit: the size is what the error names.
    with pytest.raises(ContractError, match="over the 262144 limit"):
        decode_readings(b"{" * (MAX_PAYLOAD_BYTES + 1))


# (id, golden payload, field to change, new value or DELETE, error field, reason);
# fields are written as errors name them. A reason of "" means the payload stays valid.
MALFORMED = [
    # version
    ("v-missing", "readings_batch", "v", DELETE, "v", "missing"),
    ("v-unsupported", "readings_batch", "v", 2, "v", "unsupported version 2 (supported: 1)"),
    ("v-zero", "ack", "v", 0, "v", "unsupported version 0"),
    ("v-string", "config", "v", "1", "v", "must be an integer"),
    ("v-bool", "status_online", "v", True, "v", "must be an integer"),
    ("v-float", "readings_batch", "v", 1.0, "v", "must be an integer"),
    # batch fields
    ("batch-id-missing", "readings_batch", "batch_id", DELETE, "batch_id", "missing"),
    ("batch-id-upper", "readings_batch", "batch_id", BATCH_ID.upper(), "batch_id", "not a valid"),
    ("batch-id-braces", "readings_batch", "batch_id", f"{{{BATCH_ID}}}", "batch_id", "not a valid"),
    ("sent-at-null", "readings_batch", "sent_at", None, "sent_at", "must not be null"),
    ("gateway-id-slash", "readings_batch", "gateway_id", "gw/1", "gateway_id", "not a valid"),
    ("gateway-id-other", "readings_batch", "gateway_id", "gw-0043", "gateway_id", "the topic's"),
    ("empty-batch", "readings_batch", "readings", [], "readings", "at least one reading"),
    ("readings-object", "readings_batch", "readings", {}, "readings", "must be an array"),
    ("reading-number", "readings_batch", "readings[0]", 7, "readings[0]", "must be an object"),
    # reading fields
    ("field-missing", "readings_batch", "readings[2].continuous", DELETE, None, "missing"),
    ("value-bool", "readings_batch", "readings[3].value", True, None, "got a boolean"),
    ("value-string", "readings_batch", "readings[0].value", "120", None, "got a string"),
    ("value-nan", "readings_batch", "readings[0].value", math.nan, "", "NaN is not a JSON number"),
    ("value-1e400", "readings_batch", "readings[0].value", 10**400, None, "number out of range"),
    ("original-1e400", "readings_batch", "readings[0].original_value", 10**400, None, "range"),
    ("naive", "readings_batch", "readings[1].measured_at", "2026-11-29T07:15:30.000000", None,
     "must be UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("offset", "readings_batch", "readings[1].measured_at", "2026-11-29T08:15:30.000000+01:00",
     None, "must be UTC"),
    ("no-fraction", "readings_batch", "readings[1].measured_at", "2026-11-29T07:15:30Z", None,
     "must be UTC"),
    ("month-13", "readings_batch", "readings[1].measured_at", "2026-13-29T07:15:30.000000Z",
     None, "month must be in 1..12"),
    ("fullwidth-digits", "readings_batch", "readings[1].measured_at",
     "\uff12\uff10\uff12\uff16-11-29T07:15:30.000000Z", None, "must be UTC"),
    ("device-time-zoned", "readings_batch", "readings[0].device_time", "2026-11-29T08:15:30Z",
     None, "must be a zoneless"),
    ("kind-unknown", "readings_batch", "readings[0].kind", "weight", None, "unknown Kind 'weight'"),
    ("unit-unknown", "readings_batch", "readings[0].unit", "mmHg", None, "unknown Unit 'mmHg'"),
    ("absent-unknown", "readings_batch", "readings[2].absent_reason", "x", None, "AbsentReason"),
    ("flag-unknown", "readings_batch", "readings[0].flags[1]", "shaky", None, "unknown Flag"),
    ("flag-twice", "readings_batch", "readings[0].flags", ["body_movement"] * 2, None, "twice"),
    ("flags-string", "readings_batch", "readings[0].flags", "invalid", None, "must be an array"),
    ("device-wildcard", "readings_batch", "readings[2].device_id", "cuff+1", None, "not a valid"),
    ("device-surrogate", "readings_batch", "readings[2].device_id", "\ud800", None, "not a valid"),
    ("value-and-absent", "readings_batch", "readings[0].absent_reason", "not_a_number",
     "readings[0]", "exactly one of value and absent_reason"),
    ("original-no-unit", "readings_batch", "readings[0].original_unit", None, "readings[0]",
     "original_value and original_unit go together"),
    ("user-id-256", "readings_batch", "readings[0].user_id", 256, None, "within 0..255, got 256"),
    ("user-id-float", "readings_batch", "readings[0].user_id", 1.0, None, "must be an integer"),
    ("continuous-1", "readings_batch", "readings[4].continuous", 1, None, "must be true or false"),
    # ack
    ("only-rejected", "ack", "batch_ids", [], "", ""),
    ("ack-batch-id", "ack", "batch_ids[1]", "not-a-uuid", None, "not a valid batch id"),
    ("committed-and-rejected", "ack", "rejected[0].batch_id", BATCH_ID, None, "named twice"),
    ("reason-newline", "ack", "rejected[0].reason", "one\ntwo", None, "without control"),
    ("reason-long", "ack", "rejected[0].reason", "x" * (MAX_REASON_LENGTH + 1), None, "1-200"),
    ("committed-at-space", "ack", "committed_at", "2026-11-29 07:30:05.731204Z", None, "UTC"),
    # status
    ("state-unknown", "status_online", "state", "asleep", None, "unknown GatewayState"),
    ("online-no-at", "status_online", "at", None, None, "is required when online"),
    ("outbox-negative", "status_online", "outbox_depth", -1, None, "within 0..2147483647"),
    ("battery-101", "status_online", "devices[0].battery", 101, None, "within 0..100, got 101"),
    ("rssi-127", "status_online", "devices[1].rssi", 127, None, "within -127..20, got 127"),
    ("status-device-twice", "status_online", "devices[1].device_id", "A4:C1:38:00:00:01", None,
     "device listed twice"),
    ("version-empty", "status_online", "software_version", "", None, "must be 1-64 characters"),
    ("offline-gateway-hash", "status_offline", "gateway_id", "#", None, "not a valid gateway id"),
    ("flag-unknown-status", "status_online", "flags[0]", "on_fire", None, "unknown GatewayFlag"),
    ("flags-missing", "status_online", "flags", DELETE, None, "missing"),
    ("clock-offset-string", "status_online", "devices[0].clock_offset_s", "-2h", None, "string"),
    ("clock-offset-absurd", "status_online", "devices[0].clock_offset_s", 1e12, None,
     "not a clock offset"),
    ("model-long", "status_online", "devices[0].model", "M" * 65, None, "1-64 characters"),
    # config
    ("batch-size-0", "config", "settings.batch_size", 0, None, "within 1..200, got 0"),
    ("setting-missing", "config", "settings.scan_interval_s", DELETE, None, "missing"),
    ("settings-array", "config", "settings", [], None, "must be an object"),
    ("config-device-twice", "config", "devices[1].device_id", "A4:C1:38:00:00:01", None,
     "device listed twice"),
    ("profile-slash", "config", "devices[0].profile", "sig/bp", None, "not a valid name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "path", "value", "field", "reason"),
    [pytest.param(*case, id=case_id) for case_id, *case in MALFORMED],
)
def test_malformed_payloads_name_the_field_at_fault(name, path, value, field, reason):
    data = mutated(name, path, value)
    if not reason:
        assert DECODERS[name](data) is not None
        return
    with pytest.raises(ContractError) as caught:
        DECODERS[name](data, topic_gateway_id=GATEWAY_ID)
    # None: the field changed is the one named; "": the payload as a whole.
    expected_field = {None: path, "": None}.get(field, field)
    assert (caught.value.field, reason in caught.value.reason) == (expected_field, True), str(
        caught.value
    )


def test_an_empty_ack_is_refused():
    document = golden_document("ack")
    document["batch_ids"], document["rejected"] = [], []
    with pytest.raises(ContractError) as caught:
        decode_ack(json.dumps(document).encode())
    assert (caught.value.field, caught.value.reason) == (
        "batch_ids",
        "an ack names at least one batch",
    )


def test_a_duplicate_key_is_refused_not_resolved():
    data = golden_bytes("ack").replace(b'"v":1,', b'"v":1,"v":1,', 1)
    with pytest.raises(ContractError) as caught:
        decode_ack(data)
    assert (caught.value.field, caught.value.reason) == ("v", "duplicate key")


def test_a_key_repeated_with_a_different_reading_makes_the_batch_inconsistent():
    document = golden_document("readings_batch")
    twin = dict(document["readings"][0], value=121.0)
    document["readings"].append(twin)
    with pytest.raises(ContractError) as caught:
        decode_readings(json.dumps(document).encode())
    assert caught.value.field == "readings[6]"
    assert caught.value.reason == (
        "same device_id, kind and measured_at as readings[0] but a different reading"
    )


def test_a_reading_repeated_identically_is_kept_as_sent():
    # A device re-sending a stored record is normal; storage absorbs the repeat.
    repeated = dataclasses.replace(
        READINGS_BATCH, readings=(*READINGS_BATCH.readings, READINGS_BATCH.readings[0])
    )
    assert decode_readings(encode(repeated)) == repeated


def test_unknown_fields_are_ignored_within_a_version():
    document = golden_document("readings_batch")
    document["compression"] = "none"
    document["readings"][0]["confidence"] = 0.9
    assert decode_readings(json.dumps(document).encode()) == READINGS_BATCH


def test_field_order_on_the_wire_does_not_matter_to_the_decoder():
    document = golden_document("config")
    reordered = dict(reversed(list(document.items())))
    assert decode_config(json.dumps(reordered).encode()) == GOLDEN["config"]


# --- payload objects validate themselves --------------------------------------------


def reading(**changes: Any) -> Reading:
    fields: dict[str, Any] = {
        "device_id": "A4:C1:38:00:00:01",
        "kind": Kind.SPO2,
        "value": 97.0,
        "unit": Unit.PERCENT,
        "measured_at": AT,
    }
    return Reading(**(fields | changes))


@pytest.mark.parametrize(
    ("make", "field", "reason"),
    [
        pytest.param(
            lambda: ReadingsBatch(
                batch_id=BATCH_ID, gateway_id="gw-1", sent_at=datetime(2026, 11, 29), readings=()
            ),
            "sent_at",
            "must be timezone-aware UTC",
            id="batch-naive-sent-at",
        ),
        pytest.param(
            lambda: ReadingsBatch(
                batch_id=BATCH_ID,
                gateway_id="gw-1",
                sent_at=AT,
                readings=(reading(device_id="cuff#1"),),
            ),
            "readings[0].device_id",
            "is not a valid device id",
            id="batch-device-id",
        ),
        pytest.param(
            lambda: ReadingsBatch(
                batch_id=BATCH_ID,
                gateway_id="gw-1",
                sent_at=AT,
                readings=(reading(original_value=float("inf"), original_unit=Unit.KPA),),
            ),
            "readings[0].original_value",
            "must be finite",
            id="batch-original-value-inf",
        ),
        pytest.param(
            lambda: ReadingsBatch(
                batch_id=BATCH_ID,
                gateway_id="gw-1",
                sent_at=AT,
                readings=(reading(),) * (MAX_READINGS_PER_BATCH + 1),
            ),
            "readings",
            "has 201 entries, at most 200 allowed",
            id="batch-too-many-readings",
        ),
        pytest.param(
            lambda: Ack(
                gateway_id="gw-1",
                committed_at=AT,
                batch_ids=tuple(new_batch_id() for _ in range(MAX_ACK_ENTRIES)),
                rejected=(Rejection(batch_id=BATCH_ID, reason="bad"),),
            ),
            "batch_ids",
            "has 257 entries, at most 256 allowed",
            id="ack-too-many-batches",
        ),
        pytest.param(
            lambda: Status(
                gateway_id="gw-1",
                state=GatewayState.ONLINE,
                at=AT,
                software_version=None,
                outbox_depth=0,
            ),
            "software_version",
            "is required when online",
            id="status-online-no-version",
        ),
        pytest.param(
            lambda: Status(
                gateway_id="gw-1",
                state=GatewayState.OFFLINE,
                at=None,
                software_version=None,
                outbox_depth=None,
                devices=tuple(
                    DeviceStatus(device_id=f"dev-{i}") for i in range(MAX_DEVICES_PER_GATEWAY + 1)
                ),
            ),
            "devices",
            "has 65 entries, at most 64 allowed",
            id="status-too-many-devices",
        ),
        pytest.param(
            lambda: DeviceStatus(device_id="dev-1", last_seen=datetime(2026, 11, 29)),
            "last_seen",
            "must be timezone-aware UTC",
            id="device-naive-last-seen",
        ),
        pytest.param(
            lambda: GatewayConfig(gateway_id="gw-1", issued_at=datetime(2026, 11, 29)),
            "issued_at",
            "must be timezone-aware UTC",
            id="config-naive-issued-at",
        ),
    ],
)
def test_payload_objects_refuse_what_they_could_not_encode(make, field, reason):
    with pytest.raises(ContractError) as caught:
        make()
    assert (caught.value.field, reason in caught.value.reason) == (field, True), caught.value


def test_encode_refuses_to_write_past_the_size_limit():
    class Huge:
        def to_json(self):
            return {"v": 1, "padding": "x" * MAX_PAYLOAD_BYTES}

    with pytest.raises(ContractError, match="over the 262144 limit"):
        encode(Huge())


def test_an_int_value_is_written_as_the_float_it_stands_for():
    batch = dataclasses.replace(READINGS_BATCH, readings=(reading(value=97),))
    assert b'"value":97.0,' in encode(batch)
    assert decode_readings(encode(batch)) == batch


def test_an_instant_in_another_zone_is_written_in_utc():
    from zoneinfo import ZoneInfo

    london = datetime(2026, 11, 29, 7, 0, tzinfo=ZoneInfo("Europe/London"))  # GMT, offset 0
    batch = dataclasses.replace(READINGS_BATCH, sent_at=london)
    assert b'"sent_at":"2026-11-29T07:00:00.000000Z"' in encode(batch)


# --- limits: the worst valid payload of each kind fits ------------------------------


def test_the_largest_valid_batch_fits_the_payload_limit():
    worst = reading(
        device_id="D" * MAX_ID_LENGTH,
        kind=Kind.MEAN_ARTERIAL_PRESSURE,
        value=-1.7976931348623157e308,
        unit=Unit.MMHG,
        device_time=datetime(2026, 11, 29, 8, 0, 0, 123456),
        flags=frozenset(Flag),
        original_value=-2.2250738585072014e-308,
        original_unit=Unit.KPA,
        user_id=255,
    )
    batch = ReadingsBatch(
        batch_id=BATCH_ID,
        gateway_id="G" * MAX_ID_LENGTH,
        sent_at=AT,
        readings=tuple(
            dataclasses.replace(worst, measured_at=AT.replace(microsecond=index))
            for index in range(MAX_READINGS_PER_BATCH)
        ),
    )
    assert len(encode(batch)) <= MAX_PAYLOAD_BYTES


def test_the_largest_valid_ack_fits_the_payload_limit():
    # Quotes are escaped to two bytes, astral characters take four: the worst reasons.
    half = MAX_ACK_ENTRIES // 2
    ack = Ack(
        gateway_id="G" * MAX_ID_LENGTH,
        committed_at=AT,
        batch_ids=tuple(new_batch_id() for _ in range(half)),
        rejected=tuple(
            Rejection(batch_id=new_batch_id(), reason="\U0001f4a5" * MAX_REASON_LENGTH)
            for _ in range(MAX_ACK_ENTRIES - half)
        ),
    )
    assert len(encode(ack)) <= MAX_PAYLOAD_BYTES
    all_rejected = dataclasses.replace(
        ack,
        batch_ids=(),
        rejected=tuple(
            Rejection(batch_id=new_batch_id(), reason="\U0001f4a5" * MAX_REASON_LENGTH)
            for _ in range(MAX_ACK_ENTRIES)
        ),
    )
    assert len(encode(all_rejected)) <= MAX_PAYLOAD_BYTES


def test_the_largest_valid_status_and_config_fit_the_payload_limit():
    device_ids = [f"{index:0{MAX_ID_LENGTH}d}" for index in range(MAX_DEVICES_PER_GATEWAY)]
    status = Status(
        gateway_id="G" * MAX_ID_LENGTH,
        state=GatewayState.ONLINE,
        at=AT,
        software_version="\U0001f4a5" * MAX_LABEL_LENGTH,
        outbox_depth=2**31 - 1,
        devices=tuple(
            DeviceStatus(
                device_id=device_id,
                battery=100,
                rssi=-127,
                last_seen=AT,
                firmware="\U0001f4a5" * MAX_LABEL_LENGTH,
                model="\U0001f4a5" * MAX_LABEL_LENGTH,
                serial="\U0001f4a5" * MAX_LABEL_LENGTH,
                clock_offset_s=-1234567.125,
            )
            for device_id in device_ids
        ),
        flags=frozenset(GatewayFlag),
    )
    config = GatewayConfig(
        gateway_id="G" * MAX_ID_LENGTH,
        issued_at=AT,
        devices=tuple(
            DeviceAssignment(device_id=device_id, profile="P" * MAX_ID_LENGTH)
            for device_id in device_ids
        ),
    )
    assert len(encode(status)) <= MAX_PAYLOAD_BYTES
    assert len(encode(config)) <= MAX_PAYLOAD_BYTES


# --- salvaging the batch id of a poison batch ---------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            mutated("readings_batch", "readings[0].kind", "weight"), BATCH_ID, id="bad-kind"
        ),
        pytest.param(mutated("readings_batch", "readings", []), BATCH_ID, id="empty"),
        pytest.param(mutated("readings_batch", "batch_id", "x"), None, id="bad-batch-id"),
        pytest.param(mutated("readings_batch", "v", 2), None, id="newer-version-waits"),
        pytest.param(b"\x00garbage", None, id="garbage"),
        pytest.param(golden_bytes("readings_batch"), BATCH_ID, id="valid"),
    ],
)
def test_salvage_batch_id(data, expected):
    assert salvage_batch_id(data) == expected


# --- errors -------------------------------------------------------------------------


def test_contract_error_is_a_value_error_naming_its_field():
    error = ContractError("must be UTC", field="measured_at").within("[3]").within("readings")
    assert isinstance(error, ValueError)
    assert (error.field, error.reason) == ("readings[3].measured_at", "must be UTC")
    assert str(error) == "readings[3].measured_at: must be UTC"
    assert str(ContractError("payload is not JSON")) == "payload is not JSON"


def test_a_rejected_value_is_quoted_only_briefly():
    with pytest.raises(ContractError) as caught:
        decode_readings(mutated("readings_batch", "readings[0].kind", "k" * 10_000))
    assert len(str(caught.value)) < 120


# --- the module's public face and its imports ---------------------------------------


def test_all_is_sorted_and_complete():
    exported = gateway.contract.__all__
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))
    assert all(hasattr(gateway.contract, name) for name in exported)


def test_importing_the_contract_loads_no_io_library():
    # A fresh interpreter: which modules does the import itself add?
    script = (
        "import json, sys; before = set(sys.modules); import gateway.contract; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    added = json.loads(
        subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
        ).stdout
    )
    packages = {name.split(".")[0] for name in added}
    assert packages - set(sys.stdlib_module_names) == {"devices", "gateway"}
    assert not {"gateway.ble", "gateway.mqtt"} & set(added)
    assert "gateway.contract" in added
