"""The JSON wire under every MQTT payload: errors, bytes <-> object, field converters.

Every payload is one UTF-8 JSON object with a version ``v``. Encoding is compact
(``,`` and ``:`` separators), keeps non-ASCII as UTF-8, and writes keys in each
payload's declared order, ``v`` first, so one value always gives the same bytes.
Decoding is strict about what a field means and lenient about what it does not know:

- the size limit is checked before any parsing (the broker does not bound it);
- invalid UTF-8 or JSON, ``NaN``/``Infinity`` tokens, duplicate keys, nesting too
  deep, a non-object or an unsupported ``v`` are rejected;
- a missing field is rejected; JSON ``null`` is the only way to say "none";
- an unknown field is ignored, so a producer may add an optional field within a
  version; anything that changes the meaning of a field needs a new ``v``.

Converters take a JSON value and return a Python one or raise ``ContractError``;
``read`` and ``read_optional`` attach the field name, and ``ContractError.within``
prefixes the path as errors leave nested objects ("readings[3].measured_at").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol, TypeVar

from gateway.limits import MAX_PAYLOAD_BYTES

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
Converter = Callable[[object], T]

# The only version this code reads and writes; the next one is added, never swapped in.
VERSION = 1
SUPPORTED_VERSIONS = frozenset({VERSION})

# Free text (software versions, firmware strings, reject reasons): no C0/C1 controls and
# no lone surrogates, which JSON can smuggle in as \ud800 but UTF-8 cannot carry.
_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]*")

# Error messages quote at most this many characters of a rejected value.
_SHOWN_CHARS = 80


class ContractError(ValueError):
    """Bytes or values that break the MQTT contract.

    ``field`` is the path of the offending field ("readings[3].measured_at"), or None
    when the payload as a whole is at fault (not JSON, too large); ``reason`` says why.
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(reason if field is None else f"{field}: {reason}")

    def within(self, prefix: str) -> ContractError:
        """The same error seen from the enclosing object, its path prefixed."""
        if self.field is None:
            field = prefix
        elif self.field.startswith("["):
            field = prefix + self.field
        else:
            field = f"{prefix}.{self.field}"
        return ContractError(self.reason, field=field)


class Payload(Protocol):
    """A contract payload: it knows its own JSON object, keys in wire order."""

    def to_json(self) -> dict[str, object]: ...


def encode(payload: Payload) -> bytes:
    """The payload's bytes on the wire (deterministic: same value, same bytes)."""
    data = json.dumps(
        payload.to_json(), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES} limit")
    return data


def load_object(data: bytes) -> dict[str, object]:
    """Parse one versioned payload object; every failure is a ContractError."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES} limit")
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise ContractError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except ContractError:
        raise
    # ValueError covers JSONDecodeError and integers past Python's digit limit;
    # RecursionError is what a deeply nested document gives the C scanner.
    except (ValueError, RecursionError) as exc:
        raise ContractError(f"payload is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ContractError("payload must be a JSON object")
    version = read(obj, "v", integer)
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(map(str, sorted(SUPPORTED_VERSIONS)))
        raise ContractError(
            f"unsupported version {shown(version)} (supported: {supported})", field="v"
        )
    return obj


def _reject_constant(token: str) -> object:
    raise ContractError(f"{token} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # JSON leaves duplicate keys undefined and parsers differ on which one wins
    # (RFC 8259 section 4), so a payload that repeats a key means nothing.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ContractError("duplicate key", field=key)
            seen.add(key)
    return obj


def read(obj: Mapping[str, object], name: str, convert: Converter[T]) -> T:
    """Field ``name`` of ``obj``, converted; missing or null fields are errors."""
    try:
        value = obj[name]
    except KeyError:
        raise ContractError("missing", field=name) from None
    if value is None:
        raise ContractError("must not be null", field=name)
    try:
        return convert(value)
    except ContractError as exc:
        raise exc.within(name) from None


def read_optional(obj: Mapping[str, object], name: str, convert: Converter[T]) -> T | None:
    """Field ``name`` of ``obj``, converted, or None for JSON null; missing is an error."""
    try:
        value = obj[name]
    except KeyError:
        raise ContractError("missing", field=name) from None
    if value is None:
        return None
    try:
        return convert(value)
    except ContractError as exc:
        raise exc.within(name) from None


def build(make: Callable[[], T]) -> T:
    """Run a constructor, turning a foreign ValueError (e.g. from Reading) into ours."""
    try:
        return make()
    except ContractError:
        raise
    except ValueError as exc:
        raise ContractError(str(exc)) from exc


def string(value: object) -> str:
    if not isinstance(value, str):
        raise ContractError(f"must be a string, got {_json_type(value)}")
    return value


def integer(value: object) -> int:
    # bool is an int subclass in Python, never in the contract.
    if type(value) is not int:
        raise ContractError(f"must be an integer, got {_json_type(value)}")
    return value


def number(value: object) -> float:
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise ContractError("number out of range") from None
    if type(value) is not float:
        raise ContractError(f"must be a number, got {_json_type(value)}")
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ContractError("number out of range")
    return value


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ContractError(f"must be true or false, got {_json_type(value)}")
    return value


def json_object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ContractError(f"must be an object, got {_json_type(value)}")
    return value


def member(enum: type[E]) -> Converter[E]:
    """A converter to ``enum``, whose values are the wire strings themselves."""

    by_value = {item.value: item for item in enum}

    def convert(value: object) -> E:
        try:
            return by_value[string(value)]
        except KeyError:
            raise ContractError(f"unknown {enum.__name__} {shown(value)}") from None

    return convert


def array(convert: Converter[T]) -> Converter[tuple[T, ...]]:
    """A converter of a JSON array, each item through ``convert``, errors indexed."""

    def convert_array(value: object) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise ContractError(f"must be an array, got {_json_type(value)}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(convert(item))
            except ContractError as exc:
                raise exc.within(f"[{index}]") from None
        return tuple(items)

    return convert_array


def check_text(text: str, *, field: str, max_length: int) -> None:
    """Validation for free text: 1..max_length characters, none of them controls."""
    if not 0 < len(text) <= max_length or not _TEXT.fullmatch(text):
        raise ContractError(
            f"must be 1-{max_length} characters without control characters", field=field
        )


def check_range(value: int, bounds: tuple[int, int], *, field: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ContractError(f"must be within {low}..{high}, got {shown(value)}", field=field)


def check_count(items: tuple[object, ...], *, field: str, maximum: int) -> None:
    if len(items) > maximum:
        raise ContractError(f"has {len(items)} entries, at most {maximum} allowed", field=field)


def shown(value: object) -> str:
    """A rejected value as an error message quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


_JSON_TYPES: Mapping[type, str] = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}
