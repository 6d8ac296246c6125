"""Battery Level (0x2A19) against GSS examples and properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.battery import encode_battery_level, parse_battery_level
from devices.errors import ParseError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "battery.json").read_text())


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


@pytest.mark.parametrize("vector", _params("battery_level"))
def test_battery_level_vector(vector):
    data = bytes.fromhex(vector["hex"])
    assert parse_battery_level(data) == vector["level"]
    assert encode_battery_level(vector["level"]) == data


@pytest.mark.parametrize("vector", _params("battery_level_invalid"))
def test_invalid_battery_level_is_a_parse_error(vector):
    with pytest.raises(ParseError) as caught:
        parse_battery_level(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


@pytest.mark.parametrize("level", [-1, 101, 255])
def test_encoding_refuses_what_is_not_a_percentage(level):
    with pytest.raises(ValueError, match="0-100"):
        encode_battery_level(level)


@given(st.integers(0, 100))
def test_battery_level_round_trip(level):
    assert parse_battery_level(encode_battery_level(level)) == level


@given(st.binary(max_size=4))
def test_arbitrary_bytes_give_a_level_or_parse_error(data):
    try:
        level = parse_battery_level(data)
    except ParseError:
        return
    assert 0 <= level <= 100
    assert len(data) == 1
