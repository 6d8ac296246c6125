"""Record Access Control Point (0x2A52): asking a device for its stored records.

The collector writes ``op code u8 | operator u8 | operand`` (0-18 bytes, service
defined) and the device answers with an indication on the same characteristic:

    04 01           report number of stored records, all   ->  05 00 NN NN  (u16 count)
    01 01           report stored records, all              ->  the records, then 06 00 01 01
    02 01           delete stored records, all              ->  06 00 02 01
    03 00           abort the running operation             ->  06 00 03 01
    06 00 RQ CC     response code CC to request op code RQ (01 success, 06 no records, ...)
    06 00 09 02     an op code RACP does not define (here 09) is "op code not supported"

Values: GSS ``record_access_control_point.yaml`` (../shared/reference/ble.md 1.5); the
4-byte responses with a u16 count as packetcraft-inc/stacks ``plxpc_main.c`` parses them.
A response code other than success still decodes: what to do about it is the
gateway's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from devices.errors import ParseError


class RacpOpCode(IntEnum):
    REPORT_STORED_RECORDS = 0x01
    DELETE_STORED_RECORDS = 0x02
    ABORT_OPERATION = 0x03
    REPORT_NUMBER_OF_STORED_RECORDS = 0x04
    NUMBER_OF_STORED_RECORDS_RESPONSE = 0x05
    RESPONSE_CODE = 0x06
    COMBINED_REPORT = 0x07
    COMBINED_REPORT_RESPONSE = 0x08


class RacpOperator(IntEnum):
    NULL = 0x00
    ALL_RECORDS = 0x01
    LESS_THAN_OR_EQUAL = 0x02
    GREATER_THAN_OR_EQUAL = 0x03
    WITHIN_RANGE = 0x04  # inclusive
    FIRST_RECORD = 0x05
    LAST_RECORD = 0x06


class RacpResponseCode(IntEnum):
    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09
    SERVER_BUSY = 0x0A


class RacpFilterType(IntEnum):
    """The first operand byte of a filtered request (GSS; SpeziBluetooth RecordAccessFilterType)."""

    SEQUENCE_NUMBER = 0x01
    USER_FACING_TIME = 0x02


REQUEST_OP_CODES = frozenset(
    {
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOpCode.ABORT_OPERATION,
        RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS,
        RacpOpCode.COMBINED_REPORT,
    }
)
# Combined Report Response (0x08) is used by neither PLXS nor BLS and is not read here.
_RESPONSE_OP_CODES = frozenset(
    {RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, RacpOpCode.RESPONSE_CODE}
)
HEADER_SIZE = 2  # op code, operator
OPERAND_MAX = 18  # GSS: a 20-byte value (default ATT MTU 23) less the header
_SEQUENCE_NUMBER_SIZE = 2  # u16, as BLS 1.1 / GLS sequence numbers
_COUNT_SIZE = 2  # u16 record count (GSS: size service-defined; u16 in PLXS, plxpc_main.c)
_RESPONSE_SIZE = 4  # op code, Null operator, two operand bytes (either response)
_U16_MAX = 0xFFFF
_U8_MAX = 0xFF
_E = TypeVar("_E", bound=IntEnum)
_DEFINED_OP_CODES = frozenset(RacpOpCode)


@dataclass(frozen=True, slots=True, kw_only=True)
class RacpRequest:
    """What the collector writes; the operand is kept as bytes, as the service defines it."""

    op_code: RacpOpCode
    operator: RacpOperator
    operand: bytes = b""

    def __post_init__(self) -> None:
        if self.op_code not in REQUEST_OP_CODES:
            raise ValueError(f"{self.op_code!r} is a response, not a request")
        if len(self.operand) > OPERAND_MAX:
            raise ValueError(f"operand has {len(self.operand)} bytes, at most {OPERAND_MAX}")

    @property
    def sequence_number(self) -> int | None:
        """The sequence number of a one-value sequence-number filter (<= or >=), else None."""
        if (
            self.operator in (RacpOperator.LESS_THAN_OR_EQUAL, RacpOperator.GREATER_THAN_OR_EQUAL)
            and len(self.operand) == 1 + _SEQUENCE_NUMBER_SIZE
            and self.operand[0] == RacpFilterType.SEQUENCE_NUMBER
        ):
            return int.from_bytes(self.operand[1:], "little")
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RacpNumberOfRecords:
    """The device's answer to "report number of stored records" (op code 0x05)."""

    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.count <= _U16_MAX:
            raise ValueError(f"count must fit a u16, got {self.count}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RacpResponse:
    """The device's verdict on a request (op code 0x06).

    ``request_op_code`` echoes what the collector wrote: an op code RACP does not define
    (RFU) is a plain int, and its only possible answer is "op code not supported" (GSS
    ``record_access_control_point.yaml``, Response Code).
    """

    request_op_code: RacpOpCode | int
    response_code: RacpResponseCode

    def __post_init__(self) -> None:
        if not 0 <= self.request_op_code <= _U8_MAX:
            raise ValueError(f"request op code must fit a u8, got {self.request_op_code}")
        if (
            self.request_op_code not in _DEFINED_OP_CODES
            and self.response_code is not RacpResponseCode.OP_CODE_NOT_SUPPORTED
        ):
            raise ValueError(
                f"RFU op code 0x{self.request_op_code:02x} can only be answered"
                f" 'op code not supported', not {self.response_code!r}"
            )

    @property
    def succeeded(self) -> bool:
        return self.response_code is RacpResponseCode.SUCCESS


def report_number_of_records() -> RacpRequest:
    return RacpRequest(
        op_code=RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS, operator=RacpOperator.ALL_RECORDS
    )


def report_all_records() -> RacpRequest:
    return RacpRequest(op_code=RacpOpCode.REPORT_STORED_RECORDS, operator=RacpOperator.ALL_RECORDS)


def report_records_since(sequence_number: int) -> RacpRequest:
    """Records whose sequence number is >= ``sequence_number`` (BLS 1.1 style filter)."""
    if not 0 <= sequence_number <= _U16_MAX:
        raise ValueError(f"sequence number must fit a u16, got {sequence_number}")
    return RacpRequest(
        op_code=RacpOpCode.REPORT_STORED_RECORDS,
        operator=RacpOperator.GREATER_THAN_OR_EQUAL,
        operand=bytes([RacpFilterType.SEQUENCE_NUMBER])
        + sequence_number.to_bytes(_SEQUENCE_NUMBER_SIZE, "little"),
    )


def delete_all_records() -> RacpRequest:
    return RacpRequest(op_code=RacpOpCode.DELETE_STORED_RECORDS, operator=RacpOperator.ALL_RECORDS)


def abort_operation() -> RacpRequest:
    return RacpRequest(op_code=RacpOpCode.ABORT_OPERATION, operator=RacpOperator.NULL)


def encode_racp_request(r: RacpRequest) -> bytes:
    return bytes([r.op_code, r.operator]) + r.operand


def _enum(kind: type[_E], raw: int, *, offset: int) -> _E:
    try:
        return kind(raw)
    except ValueError as exc:
        raise ParseError(f"unknown {kind.__name__} 0x{raw:02x}", offset=offset) from exc


def parse_racp_request(data: bytes) -> RacpRequest:
    """Decode what a collector wrote (the device side: the fake device and simulator)."""
    if len(data) < HEADER_SIZE:
        raise ParseError(f"a request needs {HEADER_SIZE} bytes, got {len(data)}", offset=len(data))
    if len(data) > HEADER_SIZE + OPERAND_MAX:
        raise ParseError(
            f"operand longer than {OPERAND_MAX} bytes", offset=HEADER_SIZE + OPERAND_MAX
        )
    op_code = _enum(RacpOpCode, data[0], offset=0)
    if op_code not in REQUEST_OP_CODES:
        raise ParseError(f"{op_code.name} is a response, not a request", offset=0)
    return RacpRequest(
        op_code=op_code,
        operator=_enum(RacpOperator, data[1], offset=1),
        operand=bytes(data[HEADER_SIZE:]),
    )


def encode_racp_response(r: RacpNumberOfRecords | RacpResponse) -> bytes:
    if isinstance(r, RacpNumberOfRecords):
        head = bytes([RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, RacpOperator.NULL])
        return head + r.count.to_bytes(_COUNT_SIZE, "little")
    return bytes([RacpOpCode.RESPONSE_CODE, RacpOperator.NULL, r.request_op_code, r.response_code])


def parse_racp_response(data: bytes) -> RacpNumberOfRecords | RacpResponse:
    """Decode a device's RACP indication: a record count or a response code."""
    if len(data) != _RESPONSE_SIZE:
        raise ParseError(
            f"a response has {_RESPONSE_SIZE} bytes, got {len(data)}",
            offset=min(len(data), _RESPONSE_SIZE),
        )
    op_code = _enum(RacpOpCode, data[0], offset=0)
    if op_code not in _RESPONSE_OP_CODES:
        raise ParseError(f"{op_code.name} is not a response this collector reads", offset=0)
    if data[1] != RacpOperator.NULL:
        raise ParseError(f"a response's operator is Null, got 0x{data[1]:02x}", offset=1)
    if op_code is RacpOpCode.NUMBER_OF_STORED_RECORDS_RESPONSE:
        return RacpNumberOfRecords(count=int.from_bytes(data[HEADER_SIZE:], "little"))
    request_op_code: RacpOpCode | int = data[2]
    if request_op_code in _DEFINED_OP_CODES:
        request_op_code = RacpOpCode(request_op_code)
    elif data[3] != RacpResponseCode.OP_CODE_NOT_SUPPORTED:
        raise ParseError(
            f"RFU op code 0x{request_op_code:02x} can only be answered 'op code not supported'",
            offset=2,
        )
    return RacpResponse(
        request_op_code=request_op_code,
        response_code=_enum(RacpResponseCode, data[3], offset=3),
    )
