"""Record Access Control Point requests and responses, and the PLXS download exchanges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import racp
from devices.errors import ParseError
from devices.racp import (
    OPERAND_MAX,
    REQUEST_OP_CODES,
    RacpNumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    abort_operation,
    delete_all_records,
    encode_racp_request,
    encode_racp_response,
    parse_racp_request,
    parse_racp_response,
    report_all_records,
    report_number_of_records,
    report_records_since,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "racp.json").read_text())


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _request(expected: dict[str, Any]) -> RacpRequest:
    return RacpRequest(
        op_code=RacpOpCode[expected["op_code"]],
        operator=RacpOperator[expected["operator"]],
        operand=bytes.fromhex(expected.get("operand", "")),
    )


def _response(expected: dict[str, Any]) -> RacpNumberOfRecords | RacpResponse:
    if "count" in expected:
        return RacpNumberOfRecords(count=expected["count"])
    return RacpResponse(
        request_op_code=RacpOpCode[expected["request_op_code"]],
        response_code=RacpResponseCode[expected["response_code"]],
    )


@pytest.mark.parametrize("vector", _params("requests"))
def test_request_vector(vector):
    data = bytes.fromhex(vector["hex"])
    request = _request(vector["expected"])
    assert parse_racp_request(data) == request
    assert encode_racp_request(request) == data
    assert request.sequence_number == vector["expected"].get("sequence_number")


BUILT = [pytest.param(v, id=v["id"]) for v in VECTORS["requests"] if "builder" in v]


@pytest.mark.parametrize("vector", BUILT)
def test_builder_writes_the_vector(vector):
    builder = getattr(racp, vector["builder"])
    assert encode_racp_request(builder(*vector.get("args", []))).hex() == vector["hex"]


@pytest.mark.parametrize("vector", _params("responses"))
def test_response_vector(vector):
    data = bytes.fromhex(vector["hex"])
    response = _response(vector["expected"])
    assert parse_racp_response(data) == response
    assert encode_racp_response(response) == data


@pytest.mark.parametrize("vector", _params("invalid_requests"))
def test_invalid_request_is_a_parse_error_at_its_offset(vector):
    with pytest.raises(ParseError) as caught:
        parse_racp_request(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


@pytest.mark.parametrize("vector", _params("invalid_responses"))
def test_invalid_response_is_a_parse_error_at_its_offset(vector):
    with pytest.raises(ParseError) as caught:
        parse_racp_response(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


# The PLXS stored-record download (../shared/reference/ble.md 1.5), both sides of the wire:
# what the collector writes, how a device reads it, what it indicates back.
DOWNLOAD = [
    pytest.param(
        report_number_of_records(),
        "0401",
        RacpNumberOfRecords(count=2),
        "05000200",
        id="count-two-stored",
    ),
    pytest.param(
        report_number_of_records(),
        "0401",
        RacpNumberOfRecords(count=0),
        "05000000",
        id="count-none-stored",
    ),
    pytest.param(
        report_all_records(),
        "0101",
        RacpResponse(
            request_op_code=RacpOpCode.REPORT_STORED_RECORDS, response_code=RacpResponseCode.SUCCESS
        ),
        "06000101",
        id="report-then-success",
    ),
    pytest.param(
        report_all_records(),
        "0101",
        RacpResponse(
            request_op_code=RacpOpCode.REPORT_STORED_RECORDS,
            response_code=RacpResponseCode.NO_RECORDS_FOUND,
        ),
        "06000106",
        id="report-no-records",
    ),
    pytest.param(
        delete_all_records(),
        "0201",
        RacpResponse(
            request_op_code=RacpOpCode.DELETE_STORED_RECORDS, response_code=RacpResponseCode.SUCCESS
        ),
        "06000201",
        id="delete-then-success",
    ),
    pytest.param(
        abort_operation(),
        "0300",
        RacpResponse(
            request_op_code=RacpOpCode.ABORT_OPERATION, response_code=RacpResponseCode.SUCCESS
        ),
        "06000301",
        id="abort-then-success",
    ),
]


@pytest.mark.parametrize(("request_", "written", "response", "indicated"), DOWNLOAD)
def test_download_exchange(request_, written, response, indicated):
    assert encode_racp_request(request_).hex() == written
    assert parse_racp_request(bytes.fromhex(written)) == request_
    assert encode_racp_response(response).hex() == indicated
    assert parse_racp_response(bytes.fromhex(indicated)) == response


@pytest.mark.parametrize("code", list(RacpResponseCode), ids=lambda c: c.name)
def test_only_success_succeeds(code):
    response = RacpResponse(request_op_code=RacpOpCode.REPORT_STORED_RECORDS, response_code=code)
    assert response.succeeded is (code is RacpResponseCode.SUCCESS)
    assert parse_racp_response(encode_racp_response(response)) == response


# GSS record_access_control_point.yaml: a device answers an op code RACP does not define
# (RFU) with "op code not supported", echoing the op code it was sent.
RFU_OP_CODES = st.integers(0, 0xFF).filter(lambda code: code not in set(RacpOpCode))


def test_an_rfu_op_code_is_answered_op_code_not_supported():
    response = RacpResponse(
        request_op_code=0x09, response_code=RacpResponseCode.OP_CODE_NOT_SUPPORTED
    )
    assert parse_racp_response(bytes.fromhex("06000902")) == response
    assert encode_racp_response(response).hex() == "06000902"
    assert not response.succeeded


@given(RFU_OP_CODES)
def test_rfu_op_code_response_round_trip(op_code):
    data = bytes((0x06, 0x00, op_code, 0x02))
    response = parse_racp_response(data)
    assert response == RacpResponse(
        request_op_code=op_code, response_code=RacpResponseCode.OP_CODE_NOT_SUPPORTED
    )
    assert encode_racp_response(response) == data


@given(RFU_OP_CODES, st.sampled_from(RacpResponseCode))
def test_an_rfu_op_code_has_no_other_answer(op_code, code):
    if code is not RacpResponseCode.OP_CODE_NOT_SUPPORTED:
        with pytest.raises(ValueError, match="RFU op code"):
            RacpResponse(request_op_code=op_code, response_code=code)


@given(RFU_OP_CODES, st.integers(0, 0xFF).filter(lambda code: code != 0x02))
def test_a_response_to_an_rfu_op_code_other_than_not_supported_is_refused(op_code, code):
    # Undefined response codes (0x00, 0x0B-0xFF) are refused here as everywhere else.
    with pytest.raises(ParseError) as caught:
        parse_racp_response(bytes((0x06, 0x00, op_code, code)))
    assert caught.value.offset == 2


def test_a_known_op_code_still_parses_as_its_enum():
    response = parse_racp_response(bytes.fromhex("06000702"))
    assert isinstance(response, RacpResponse)
    assert response.request_op_code is RacpOpCode.COMBINED_REPORT


@pytest.mark.parametrize("op_code", [-1, 0x100])
def test_request_op_code_must_fit_a_u8(op_code):
    with pytest.raises(ValueError, match="u8"):
        RacpResponse(request_op_code=op_code, response_code=RacpResponseCode.OP_CODE_NOT_SUPPORTED)


def test_sequence_number_is_read_only_from_a_one_value_sequence_filter():
    assert report_records_since(0xFFFF).sequence_number == 0xFFFF
    assert report_all_records().sequence_number is None
    user_facing_time = RacpRequest(
        op_code=RacpOpCode.REPORT_STORED_RECORDS,
        operator=RacpOperator.GREATER_THAN_OR_EQUAL,
        operand=bytes.fromhex("020c00"),
    )
    assert user_facing_time.sequence_number is None


@pytest.mark.parametrize("sequence_number", [-1, 0x10000])
def test_sequence_number_must_fit_a_u16(sequence_number):
    with pytest.raises(ValueError, match="u16"):
        report_records_since(sequence_number)


def test_records_refuse_what_the_wire_cannot_carry():
    with pytest.raises(ValueError, match="response, not a request"):
        RacpRequest(op_code=RacpOpCode.RESPONSE_CODE, operator=RacpOperator.NULL)
    with pytest.raises(ValueError, match="at most 18"):
        RacpRequest(
            op_code=RacpOpCode.REPORT_STORED_RECORDS,
            operator=RacpOperator.ALL_RECORDS,
            operand=bytes(OPERAND_MAX + 1),
        )
    with pytest.raises(ValueError, match="u16"):
        RacpNumberOfRecords(count=0x10000)


requests = st.builds(
    RacpRequest,
    op_code=st.sampled_from(sorted(REQUEST_OP_CODES)),
    operator=st.sampled_from(RacpOperator),
    operand=st.binary(max_size=OPERAND_MAX),
)
responses = st.one_of(
    st.builds(RacpNumberOfRecords, count=st.integers(0, 0xFFFF)),
    st.builds(
        RacpResponse,
        request_op_code=st.sampled_from(RacpOpCode),
        response_code=st.sampled_from(RacpResponseCode),
    ),
)


@given(requests)
def test_request_round_trip(request_):
    assert parse_racp_request(encode_racp_request(request_)) == request_


@given(responses)
def test_response_round_trip(response):
    assert parse_racp_response(encode_racp_response(response)) == response


@given(st.binary(max_size=24))
def test_arbitrary_bytes_give_a_request_or_parse_error(data):
    try:
        request_ = parse_racp_request(data)
    except ParseError:
        return
    assert encode_racp_request(request_) == data


@given(st.binary(max_size=8))
def test_arbitrary_bytes_give_a_response_or_parse_error(data):
    try:
        response = parse_racp_response(data)
    except ParseError:
        return
    assert encode_racp_response(response) == data
