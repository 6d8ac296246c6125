"""The readings batch: what a gateway publishes on ``telecare/v1/gw/{id}/readings``.

    {"v":1,"batch_id":"<uuid>","gateway_id":"gw-1","sent_at":"2026-11-29T07:22:00.000000Z",
     "readings":[{"device_id":..,"kind":..,"value":..,"unit":..,"measured_at":..,
                  "device_time":..,"flags":[..],"absent_reason":..,"original_value":..,
                  "original_unit":..,"user_id":..,"continuous":..}, ..]}

Each reading is ``devices.reading.Reading`` field by field, in its declared order; enum
fields carry their wire values, ``flags`` is a sorted list, absent values are ``null``.
The batch id names the batch for the app-level ack; a resend reuses it, so the gateway
stores it with the batch. Within one batch the storage key (device_id, kind,
measured_at) may repeat only for identical readings: a key with two different readings
is inconsistent and the whole batch is refused.

``decode_readings`` first tries gateway.fast_path, which decodes what ``encode`` writes
at a fraction of the cost; ``decode_full`` takes every other spelling and says what is
wrong with invalid bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit
from gateway.fast_path import BatchFields, read_batch
from gateway.identifier import BATCH_ID, check_batch_id, check_device_id, check_gateway_id
from gateway.limits import MAX_READINGS_PER_BATCH
from gateway.timestamp import check_utc, format_naive, format_utc, naive_time, utc_time
from gateway.topic import check_topic_gateway
from gateway.wire import (
    VERSION,
    ContractError,
    array,
    boolean,
    build,
    check_count,
    integer,
    json_object,
    load_object,
    member,
    number,
    read,
    read_optional,
    string,
)

# Reading.user_id is the one-byte User ID of the SIG health profiles (BLS/PLXS).
_MAX_USER_ID = 0xFF


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingsBatch:
    """Readings a gateway sends together and ingest acknowledges together."""

    batch_id: str
    gateway_id: str
    sent_at: datetime
    readings: tuple[Reading, ...]

    def __post_init__(self) -> None:
        check_batch_id(self.batch_id)
        check_gateway_id(self.gateway_id)
        check_utc(self.sent_at, field="sent_at")
        if not self.readings:
            raise ContractError("a batch holds at least one reading", field="readings")
        check_count(self.readings, field="readings", maximum=MAX_READINGS_PER_BATCH)
        first_with_key: dict[tuple[str, Kind, datetime], int] = {}
        for index, reading in enumerate(self.readings):
            _check_reading(reading, field=f"readings[{index}]")
            key = (reading.device_id, reading.kind, reading.measured_at)
            first = first_with_key.setdefault(key, index)
            if first != index and self.readings[first] != reading:
                raise ContractError(
                    f"same device_id, kind and measured_at as readings[{first}] "
                    "but a different reading",
                    field=f"readings[{index}]",
                )

    def to_json(self) -> dict[str, object]:
        return {
            "v": VERSION,
            "batch_id": self.batch_id,
            "gateway_id": self.gateway_id,
            "sent_at": format_utc(self.sent_at),
            "readings": [_reading_to_json(reading) for reading in self.readings],
        }


def decode_readings(data: bytes, *, topic_gateway_id: str | None = None) -> ReadingsBatch:
    """The batch in ``data``; with ``topic_gateway_id``, it must be that gateway's."""
    common = read_batch(data)
    # Another spelling, or invalid: the full decoder takes it, or tells what is wrong.
    batch = decode_full(data) if common is None else _prechecked_batch(common)
    check_topic_gateway(batch.gateway_id, topic_gateway_id)
    return batch


def decode_full(data: bytes) -> ReadingsBatch:
    """The batch in ``data``, in any spelling the contract allows, field by field.

    ``decode_readings`` tries gateway.fast_path first and comes here only when that
    declines; the two return equal batches wherever both do (tests hold them to it).
    """
    obj = load_object(data)
    return build(
        lambda: ReadingsBatch(
            batch_id=read(obj, "batch_id", string),
            gateway_id=read(obj, "gateway_id", string),
            sent_at=read(obj, "sent_at", utc_time),
            readings=read(obj, "readings", _readings),
        )
    )


def salvage_batch_id(data: bytes) -> str | None:
    """The batch id of a readings payload that failed to decode, when it has a valid one.

    Ingest names it in ``Ack.rejected`` so the gateway stops resending a poison batch.
    None for bytes that are not a supported-version object, on purpose: a newer
    gateway's batch must wait for a newer ingest, not be rejected by this one.
    """
    try:
        obj = load_object(data)
    except ContractError:
        return None
    batch_id = obj.get("batch_id")
    if isinstance(batch_id, str) and BATCH_ID.fullmatch(batch_id):
        return batch_id
    return None


def _prechecked_batch(common: BatchFields) -> ReadingsBatch:
    # gateway.fast_path checked what __post_init__ would, reading by reading: skip it.
    batch: ReadingsBatch = object.__new__(ReadingsBatch)
    for name, value in zip(BatchFields._fields, common, strict=True):
        object.__setattr__(batch, name, value)
    return batch


def _check_reading(reading: Reading, *, field: str) -> None:
    # Reading validates itself; these are what the wire adds to it.
    check_device_id(reading.device_id, field=f"{field}.device_id")
    if reading.original_value is not None and not math.isfinite(reading.original_value):
        raise ContractError("must be finite", field=f"{field}.original_value")


def _reading_to_json(reading: Reading) -> dict[str, object]:
    return {
        "device_id": reading.device_id,
        "kind": reading.kind.value,
        "value": None if reading.value is None else float(reading.value),
        "unit": reading.unit.value,
        "measured_at": format_utc(reading.measured_at),
        "device_time": None if reading.device_time is None else format_naive(reading.device_time),
        "flags": sorted(flag.value for flag in reading.flags),
        "absent_reason": None if reading.absent_reason is None else reading.absent_reason.value,
        "original_value": (
            None if reading.original_value is None else float(reading.original_value)
        ),
        "original_unit": None if reading.original_unit is None else reading.original_unit.value,
        "user_id": reading.user_id,
        "continuous": reading.continuous,
    }


_kind = member(Kind)
_unit = member(Unit)
_absent_reason = member(AbsentReason)
_flag_list = array(member(Flag))


def _flags(value: object) -> frozenset[Flag]:
    listed = _flag_list(value)
    flags = frozenset(listed)
    if len(flags) != len(listed):
        raise ContractError("lists a flag twice")
    return flags


def _device_id(value: object) -> str:
    device_id = string(value)
    check_device_id(device_id, field=None)
    return device_id


def _user_id(value: object) -> int:
    user_id = integer(value)
    if not 0 <= user_id <= _MAX_USER_ID:
        raise ContractError(f"must be within 0..{_MAX_USER_ID}, got {user_id}")
    return user_id


def _reading(value: object) -> Reading:
    obj = json_object(value)
    return build(
        lambda: Reading(
            device_id=read(obj, "device_id", _device_id),
            kind=read(obj, "kind", _kind),
            value=read_optional(obj, "value", number),
            unit=read(obj, "unit", _unit),
            measured_at=read(obj, "measured_at", utc_time),
            device_time=read_optional(obj, "device_time", naive_time),
            flags=read(obj, "flags", _flags),
            absent_reason=read_optional(obj, "absent_reason", _absent_reason),
            original_value=read_optional(obj, "original_value", number),
            original_unit=read_optional(obj, "original_unit", _unit),
            user_id=read_optional(obj, "user_id", _user_id),
            continuous=read(obj, "continuous", boolean),
        )
    )


_readings = array(_reading)
