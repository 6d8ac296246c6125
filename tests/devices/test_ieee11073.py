"""IEEE 11073 SFLOAT/FLOAT and Bluetooth Date Time against published vectors and properties."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import ParseError
from devices.ieee11073 import (
    DATE_TIME_SIZE,
    SFLOAT_SPECIALS,
    encode_date_time,
    encode_float,
    encode_sfloat,
    float_from_raw,
    parse_date_time,
    parse_float,
    parse_sfloat,
    sfloat_from_raw,
)
from devices.reading import AbsentReason

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ieee11073.json").read_text())


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _expected(vector: dict[str, Any]) -> float | AbsentReason:
    return AbsentReason(vector["absent"]) if "absent" in vector else float(vector["value"])


@pytest.mark.parametrize("vector", _params("sfloat"))
def test_sfloat_vector(vector):
    assert parse_sfloat(bytes.fromhex(vector["hex"]), 0) == _expected(vector)


@pytest.mark.parametrize("vector", _params("float"))
def test_float_vector(vector):
    assert parse_float(bytes.fromhex(vector["hex"]), 0) == _expected(vector)


@pytest.mark.parametrize("vector", _params("date_time"))
def test_date_time_vector(vector):
    expected = None if vector["value"] is None else datetime.fromisoformat(vector["value"])
    assert parse_date_time(bytes.fromhex(vector["hex"]), 0) == expected


@pytest.mark.parametrize("vector", _params("date_time_invalid"))
def test_impossible_date_time_is_a_parse_error_at_its_offset(vector):
    with pytest.raises(ParseError) as caught:
        parse_date_time(bytes.fromhex(vector["hex"]), 0)
    assert caught.value.offset == vector["offset"]


def test_special_values_are_never_numbers():
    for raw, reason in SFLOAT_SPECIALS.items():
        assert sfloat_from_raw(raw) is reason
    assert sfloat_from_raw(0x07FF) != 2047


def test_sfloat_parses_at_an_offset_and_reports_truncation():
    data = bytes.fromhex("00d204")
    assert parse_sfloat(data, 1) == 1234
    with pytest.raises(ParseError) as caught:
        parse_sfloat(data, 2)
    assert caught.value.offset == 2


def test_encoding_uses_the_requested_resolution():
    assert encode_sfloat(97.5, exponent=-1) == bytes.fromhex("cff3")
    assert encode_sfloat(120.0, exponent=0) == bytes.fromhex("7800")
    assert encode_sfloat(AbsentReason.NOT_A_NUMBER) == bytes.fromhex("ff07")


def test_encoding_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        encode_sfloat(5000.0, exponent=0)
    with pytest.raises(ValueError, match="no SFLOAT encoding"):
        encode_sfloat(AbsentReason.DEVICE_INVALID)


def test_unknown_date_time_encodes_as_zeros():
    assert encode_date_time(None) == bytes(DATE_TIME_SIZE)


# Decimal values devices actually send: a mantissa at a fixed resolution.
sfloat_numbers = st.builds(
    lambda m, e: float(f"{m}e{e}"), st.integers(-2045, 2045), st.integers(-8, 7)
)
float_numbers = st.builds(
    lambda m, e: float(f"{m}e{e}"), st.integers(-(2**23) + 3, 2**23 - 3), st.integers(-20, 20)
)


@given(sfloat_numbers)
def test_sfloat_round_trip(value):
    assert parse_sfloat(encode_sfloat(value), 0) == value


@given(float_numbers)
def test_float_round_trip(value):
    assert parse_float(encode_float(value), 0) == value


@given(st.sampled_from(list(AbsentReason)).filter(lambda r: r is not AbsentReason.DEVICE_INVALID))
def test_special_round_trip(reason):
    assert parse_sfloat(encode_sfloat(reason), 0) is reason
    assert parse_float(encode_float(reason), 0) is reason


@given(st.integers(0, 0xFFFF))
def test_every_sfloat_bit_pattern_decodes(raw):
    decoded = sfloat_from_raw(raw)
    assert isinstance(decoded, AbsentReason | float)


@given(st.integers(0, 0xFFFFFFFF))
def test_every_float_bit_pattern_decodes(raw):
    decoded = float_from_raw(raw)
    assert isinstance(decoded, AbsentReason | float)


@given(st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31)))
def test_date_time_round_trip(value):
    whole_seconds = value.replace(microsecond=0)
    assert parse_date_time(encode_date_time(whole_seconds), 0) == whole_seconds


@given(st.binary(max_size=12))
def test_arbitrary_bytes_give_a_date_time_or_parse_error(data):
    try:
        result = parse_date_time(data, 0)
    except ParseError:
        return
    assert result is None or isinstance(result, datetime)
