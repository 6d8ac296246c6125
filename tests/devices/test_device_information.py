"""Device Information (0x180A) strings, System ID and PnP ID against vectors and properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.device_information import (
    ATT_MAX_VALUE_SIZE,
    DeviceInformation,
    DeviceInformationString,
    PnpId,
    VendorIdSource,
    device_information_from,
    encode_pnp_id,
    encode_system_id,
    encode_utf8_string,
    parse_pnp_id,
    parse_system_id,
    parse_utf8_string,
)
from devices.errors import ParseError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "device_information.json").read_text())


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _pnp_id(fields: dict[str, int]) -> PnpId:
    return PnpId(
        vendor_id_source=VendorIdSource(fields["vendor_id_source"]),
        vendor_id=fields["vendor_id"],
        product_id=fields["product_id"],
        version=fields["version"],
    )


@pytest.mark.parametrize("vector", _params("utf8_string"))
def test_utf8_string_vector(vector):
    assert parse_utf8_string(bytes.fromhex(vector["hex"])) == vector["text"]


@pytest.mark.parametrize("vector", _params("utf8_string_invalid"))
def test_invalid_utf8_is_a_parse_error_at_the_bad_byte(vector):
    with pytest.raises(ParseError) as caught:
        parse_utf8_string(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


def test_strings_are_capped_at_the_att_maximum():
    assert parse_utf8_string(b"A" * ATT_MAX_VALUE_SIZE) == "A" * ATT_MAX_VALUE_SIZE
    with pytest.raises(ParseError, match="ATT maximum"):
        parse_utf8_string(b"A" * (ATT_MAX_VALUE_SIZE + 1))


def test_string_characteristics_are_keyed_by_uuid():
    assert DeviceInformationString(0x2A29) is DeviceInformationString.MANUFACTURER
    assert {member.value for member in DeviceInformationString} == {
        0x2A29,
        0x2A24,
        0x2A25,
        0x2A27,
        0x2A26,
        0x2A28,
    }


@pytest.mark.parametrize("vector", _params("system_id"))
def test_system_id_vector(vector):
    data = bytes.fromhex(vector["hex"])
    assert parse_system_id(data) == int(vector["value"], 16)
    assert encode_system_id(int(vector["value"], 16)) == data


@pytest.mark.parametrize("vector", _params("system_id_invalid"))
def test_system_id_of_the_wrong_length_is_a_parse_error(vector):
    with pytest.raises(ParseError, match="8 bytes"):
        parse_system_id(bytes.fromhex(vector["hex"]))


@pytest.mark.parametrize("vector", _params("pnp_id"))
def test_pnp_id_vector(vector):
    data = bytes.fromhex(vector["hex"])
    assert parse_pnp_id(data) == _pnp_id(vector["expected"])
    assert encode_pnp_id(_pnp_id(vector["expected"])) == data


@pytest.mark.parametrize("vector", _params("pnp_id_invalid"))
def test_invalid_pnp_id_is_a_parse_error(vector):
    with pytest.raises(ParseError) as caught:
        parse_pnp_id(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


@pytest.mark.parametrize("vector", _params("device_information"))
def test_device_information_vector(vector):
    values = {int(uuid, 16): bytes.fromhex(raw) for uuid, raw in vector["values"].items()}
    expected = dict(vector["expected"])
    if expected["system_id"] is not None:
        expected["system_id"] = int(expected["system_id"], 16)
    if expected["pnp_id"] is not None:
        expected["pnp_id"] = _pnp_id(expected["pnp_id"])
    assert device_information_from(values) == DeviceInformation(**expected)


def test_no_characteristics_give_an_empty_record():
    assert device_information_from({}) == DeviceInformation()


def test_one_malformed_value_fails_the_record():
    with pytest.raises(ParseError, match="UTF-8"):
        device_information_from({0x2A29: b"Omron", 0x2A24: b"\xff"})


def test_records_refuse_values_no_device_could_send():
    with pytest.raises(ValueError, match="NUL"):
        DeviceInformation(model="HEM\x007155T")
    with pytest.raises(ValueError, match="64 bits"):
        DeviceInformation(system_id=2**64)
    with pytest.raises(ValueError, match="16 bits"):
        PnpId(vendor_id_source=VendorIdSource.USB_IF, vendor_id=0x10000, product_id=0, version=0)
    with pytest.raises(ValueError, match="vendor ID source"):
        PnpId(vendor_id_source=3, vendor_id=0, product_id=0, version=0)  # type: ignore[arg-type]


# Text a device can send: no NUL, at most the ATT maximum once encoded.
utf8_texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=128)
u16 = st.integers(0, 0xFFFF)
pnp_ids = st.builds(
    PnpId,
    vendor_id_source=st.sampled_from(VendorIdSource),
    vendor_id=u16,
    product_id=u16,
    version=u16,
)


@given(utf8_texts)
def test_utf8_string_round_trip(text):
    assert parse_utf8_string(encode_utf8_string(text)) == text


@given(utf8_texts, st.integers(1, 20))
def test_trailing_nuls_are_stripped(text, padding):
    assert parse_utf8_string(encode_utf8_string(text) + bytes(padding)) == text


@given(st.integers(0, 2**64 - 1))
def test_system_id_round_trip(system_id):
    assert parse_system_id(encode_system_id(system_id)) == system_id


@given(pnp_ids)
def test_pnp_id_round_trip(pnp_id):
    assert parse_pnp_id(encode_pnp_id(pnp_id)) == pnp_id


@given(st.binary(max_size=600))
def test_arbitrary_bytes_give_a_string_or_parse_error(data):
    try:
        text = parse_utf8_string(data)
    except ParseError:
        return
    assert "\x00" not in text
    assert len(text.encode()) <= len(data)


@given(st.binary(max_size=10))
def test_arbitrary_bytes_give_a_pnp_id_or_parse_error(data):
    try:
        result = parse_pnp_id(data)
    except ParseError:
        return
    assert isinstance(result, PnpId)


@given(st.binary(max_size=10))
def test_arbitrary_bytes_give_a_system_id_or_parse_error(data):
    try:
        system_id = parse_system_id(data)
    except ParseError:
        return
    assert 0 <= system_id < 2**64


@given(
    st.dictionaries(
        st.sampled_from([*DeviceInformationString, 0x2A23, 0x2A50, 0x2A2A]),
        st.binary(max_size=24),
    )
)
def test_arbitrary_values_give_a_record_or_parse_error(values):
    try:
        result = device_information_from(values)
    except ParseError:
        return
    assert isinstance(result, DeviceInformation)
