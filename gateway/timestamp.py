"""Timestamps on the wire: UTC instants and device wall-clock times.

An instant (``measured_at``, ``sent_at``, ``committed_at`` ...) is RFC 3339 in exactly
one spelling, UTC with ``Z`` and six fraction digits: "2026-11-29T07:22:00.000000Z".
A device's own clock reading (``device_time``) has no zone, as the device sent it
(Date Time 0x2A08): "2026-11-29T08:22:00", with a fraction only when there is one.
Only ASCII digits are accepted (a bare ``\\d`` would also match other scripts' digits).

The converters raise ContractError with the reason; ``utc_or_none`` and ``naive_or_none``
accept exactly the same strings and give None instead, for the readings decoder's fast
path (gateway.fast_path), which leaves it to the converters to say what is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gateway.wire import ContractError, string

_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_NAIVE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?")
# The same two spellings as shapes, checked without the regex engine in half the time
# (ingest checks an instant per reading): an ASCII text with each digit mapped to "d",
# and a literal "d" to NUL so that it cannot pass for a digit, must give the shape.
_SHAPE_OF = bytes.maketrans(b"0123456789d", b"dddddddddd\0")
_UTC_SHAPE = b"dddd-dd-ddTdd:dd:dd.ddddddZ"
_NAIVE_SHAPES = frozenset({b"dddd-dd-ddTdd:dd:dd", b"dddd-dd-ddTdd:dd:dd.dddddd"})


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def format_naive(moment: datetime) -> str:
    return moment.isoformat()


def utc_time(value: object) -> datetime:
    """Converter: a JSON string to an aware UTC datetime."""
    text = string(value)
    if not _UTC_TIME.fullmatch(text):
        raise ContractError("must be UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.fromisoformat(text)  # "Z" gives tzinfo=UTC
    except ValueError as exc:
        raise ContractError(str(exc)) from None


def naive_time(value: object) -> datetime:
    """Converter: a JSON string to a naive (device wall-clock) datetime."""
    text = string(value)
    if not _NAIVE_TIME.fullmatch(text):
        raise ContractError("must be a zoneless YYYY-MM-DDTHH:MM:SS[.ffffff]")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ContractError(str(exc)) from None


def utc_or_none(value: object) -> datetime | None:
    """What ``utc_time`` returns for ``value``, or None where it raises."""
    if (
        type(value) is not str
        or not value.isascii()
        or value.encode().translate(_SHAPE_OF) != _UTC_SHAPE
    ):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # a date that does not exist (2026-02-30)
        return None


def naive_or_none(value: object) -> datetime | None:
    """What ``naive_time`` returns for ``value``, or None where it raises."""
    if (
        type(value) is not str
        or not value.isascii()
        or value.encode().translate(_SHAPE_OF) not in _NAIVE_SHAPES
    ):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def check_utc(moment: datetime, *, field: str) -> None:
    """Validation for instants: an aware datetime at offset zero."""
    offset = moment.utcoffset()
    if offset is None or offset:
        raise ContractError("must be timezone-aware UTC", field=field)
