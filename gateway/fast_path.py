"""The readings decoder's fast path: a valid batch spelled as ``encode`` spells it.

Ingest decodes every batch every gateway sends, and nearly all of them are valid and
spelled the one way ``encode`` writes them: compact, no escapes, every field present,
no unknown ones. ``read_batch`` decodes those at a fraction of the full decoder's cost
(docs/performance.md, Decoding): one pass over plain dicts, enum members looked up in
tables, each device id checked once per batch, readings built without validating again
what was just checked. For anything else it returns None and ``decode_readings`` runs the
full decoder (``gateway.batch.decode_full``), which accepts every spelling the contract
allows and raises the precise ContractError. So this module never decides what is an
error:

    read_batch(data) is not None  implies  decode_full(data) == the same batch

It checks the same things as the full decoder, written inline; tests/gateway/
test_fast_path.py holds the two to each other on the golden files, on every mutation of
them and on arbitrary batches and bytes.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from math import isfinite
from operator import itemgetter
from typing import NamedTuple

from devices.reading import AbsentReason, Flag, Kind, Reading, Unit, prechecked_reading
from gateway.identifier import BATCH_ID, DEVICE_ID, GATEWAY_ID
from gateway.limits import MAX_PAYLOAD_BYTES, MAX_READINGS_PER_BATCH
from gateway.timestamp import naive_or_none, utc_or_none
from gateway.wire import SUPPORTED_VERSIONS

# ReadingsBatch.to_json writes every field of the batch and of each reading.
BATCH_KEYS = frozenset({"v", "batch_id", "gateway_id", "sent_at", "readings"})
READING_KEYS = frozenset(field.name for field in fields(Reading))
# A reading object's values in one call, in the order _read_readings unpacks them;
# KeyError if one is missing.
_reading_fields = itemgetter(
    "device_id",
    "kind",
    "value",
    "unit",
    "measured_at",
    "device_time",
    "flags",
    "absent_reason",
    "original_value",
    "original_unit",
    "user_id",
    "continuous",
)
# String values the batch object holds (batch_id, gateway_id, sent_at), and every reading
# (device_id, kind, unit, measured_at): counted for the repeated-key check.
_BATCH_STRINGS = 3
_READING_STRINGS = 4
# Reading.user_id is the one-byte User ID of the SIG health profiles (BLS/PLXS).
_MAX_USER_ID = 0xFF
# Enum members by their wire values (a StrEnum's value is its wire string).
_KINDS = {kind.value: kind for kind in Kind}
_UNITS = {unit.value: unit for unit in Unit}
_ABSENT_REASONS = {reason.value: reason for reason in AbsentReason}
_FLAGS = {flag.value: flag for flag in Flag}
_NO_FLAGS: frozenset[Flag] = frozenset()


class BatchFields(NamedTuple):
    """A batch's fields, each checked as ReadingsBatch would check it."""

    batch_id: str
    gateway_id: str
    sent_at: datetime
    readings: tuple[Reading, ...]


def read_batch(data: bytes) -> BatchFields | None:
    """The batch in ``data`` when it is valid and spelled as ``encode`` spells it, else None."""
    # Without a backslash there are no escapes, so every '"' is the edge of a string:
    # the repeated-key check at the end relies on it.
    if len(data) > MAX_PAYLOAD_BYTES or b"\\" in data:
        return None
    try:
        obj = json.loads(data.decode())
    except (ValueError, RecursionError):
        return None
    if type(obj) is not dict or obj.keys() != BATCH_KEYS:
        return None
    version, batch_id, gateway_id = obj["v"], obj["batch_id"], obj["gateway_id"]
    sent_at, items = utc_or_none(obj["sent_at"]), obj["readings"]
    if (
        type(version) is not int
        or version not in SUPPORTED_VERSIONS
        or type(batch_id) is not str
        or not BATCH_ID.fullmatch(batch_id)
        or type(gateway_id) is not str
        or not GATEWAY_ID.fullmatch(gateway_id)
        or sent_at is None
        or type(items) is not list
        or not 0 < len(items) <= MAX_READINGS_PER_BATCH
    ):
        return None
    read = _read_readings(items)
    if read is None:
        return None
    readings, strings = read
    # json keeps the last of repeated keys, so a repeat would pass unseen here. Every key
    # and every string value is one pair of quotes; each object has exactly its known
    # keys (checked) and the string values are counted, so any extra pair is a repeat.
    keys = len(BATCH_KEYS) + len(READING_KEYS) * len(readings)
    if data.count(b'"') != 2 * (keys + _BATCH_STRINGS + strings):
        return None
    return BatchFields(batch_id, gateway_id, sent_at, readings)


def _read_readings(items: list[object]) -> tuple[tuple[Reading, ...], int] | None:
    """The readings of ``read_batch``, and how many string values they hold; or None."""
    readings: list[Reading] = []
    strings = 0
    device_ids: set[str] = set()  # each valid id is checked once per batch
    flag_sets: dict[tuple[object, ...], frozenset[Flag]] = {}
    # A key repeats only for an identical reading (ReadingsBatch). The wire strings
    # stand for kind and instant (each has one spelling); a str hashes faster than an
    # aware datetime.
    by_key: dict[tuple[str, str, str], Reading] = {}
    for item in items:
        if type(item) is not dict or len(item) != len(READING_KEYS):
            return None
        try:  # all of the known keys, so no others
            (
                device_id,
                kind_text,
                value,
                unit_text,
                measured_text,
                device_time_text,
                listed,
                absent_text,
                original_value,
                original_text,
                user_id,
                continuous,
            ) = _reading_fields(item)
        except KeyError:
            return None
        if type(device_id) is not str or type(kind_text) is not str or type(unit_text) is not str:
            return None
        if device_id not in device_ids:
            if not DEVICE_ID.fullmatch(device_id):
                return None
            device_ids.add(device_id)
        kind, unit = _KINDS.get(kind_text), _UNITS.get(unit_text)
        measured_at = utc_or_none(measured_text)
        if kind is None or unit is None or measured_at is None:
            return None
        strings += _READING_STRINGS

        if type(value) is float:
            if not isfinite(value):  # json reads NaN, Infinity and 1e999
                return None
        elif value is not None:  # an integer: the full decoder takes it, rarely needed
            return None
        absent_reason = None
        if absent_text is not None:
            if type(absent_text) is not str:
                return None
            absent_reason = _ABSENT_REASONS.get(absent_text)
            if absent_reason is None:
                return None
            strings += 1
        if (value is None) == (absent_reason is None):
            return None

        device_time = None
        if device_time_text is not None:
            device_time = naive_or_none(device_time_text)
            if device_time is None:
                return None
            strings += 1

        if type(listed) is not list:
            return None
        flags = _NO_FLAGS
        if listed:
            flag_key = tuple(listed)
            try:
                # A hit is exact: only valid flag strings are stored, and no other JSON
                # value equals a string.
                known = flag_sets.get(flag_key)
            except TypeError:  # an array or object among the flags (unhashable)
                return None
            if known is None:
                known = _flag_set(flag_key)
                if known is None:
                    return None
                flag_sets[flag_key] = known
            flags = known
            strings += len(flag_key)

        original_unit = None
        if original_value is not None or original_text is not None:
            if type(original_value) is not float or not isfinite(original_value):
                return None
            if type(original_text) is not str:
                return None
            original_unit = _UNITS.get(original_text)
            if original_unit is None:
                return None
            strings += 1

        if user_id is not None and (type(user_id) is not int or not 0 <= user_id <= _MAX_USER_ID):
            return None
        if type(continuous) is not bool:
            return None

        reading = prechecked_reading(
            device_id=device_id,
            kind=kind,
            value=value,
            unit=unit,
            measured_at=measured_at,
            device_time=device_time,
            flags=flags,
            absent_reason=absent_reason,
            original_value=original_value,
            original_unit=original_unit,
            user_id=user_id,
            continuous=continuous,
        )
        first = by_key.setdefault((device_id, kind_text, measured_text), reading)
        if first is not reading and first != reading:
            return None
        readings.append(reading)
    return tuple(readings), strings


def _flag_set(listed: tuple[object, ...]) -> frozenset[Flag] | None:
    flags = frozenset(_FLAGS[text] for text in listed if type(text) is str and text in _FLAGS)
    return flags if len(flags) == len(listed) else None  # none unknown, none twice
