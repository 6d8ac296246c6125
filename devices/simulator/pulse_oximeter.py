"""A simulated Pulse Oximeter Service (PLXS 1.0.1) device: spot-checks, storage, 1 Hz stream.

Spot-checks (0x2A5E) are kept in the device's storage; a collector downloads them with
the Record Access Control Point (0x2A52), each stored record carrying Measurement Status
bit 9 "data from measurement storage" (../shared/reference/ble.md 1.5). Like most PLXS
servers (RivieraWaves ``plxp_common.h``) the device knows only the Null and All-records
operators and answers the others with "operator not supported". The continuous
measurement (0x2A5F) is a 1 Hz stream with both status fields and the pulse amplitude
index; 0x2A60 announces exactly the fields and status bits the device sends.

Every method takes explicit times; the bytes come from ``devices.pulse_oximeter`` and
``devices.racp``, so they are exactly what the gateway's parsers read.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType

from devices.battery import encode_battery_level
from devices.errors import ParseError
from devices.ieee11073 import Number
from devices.pulse_oximeter import (
    PlxContinuous,
    PlxFeature,
    PlxFeatures,
    PlxSpotCheck,
    encode_plx_continuous,
    encode_plx_features,
    encode_plx_spot_check,
)
from devices.racp import (
    RacpNumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    encode_racp_response,
    parse_racp_request,
)
from devices.reading import AbsentReason, Flag
from devices.simulator.hardware import Hardware
from devices.simulator.identity import Identity
from devices.simulator.physiology import OximetrySample, Physiology
from devices.uuids import Characteristic

MODEL = "SIM-PLX1"
HARDWARE = Hardware(
    model=MODEL,
    serial_prefix="OX",
    hardware_revision="B",
    firmware_revision="2.1.0",
    battery_at_power_on=(60, 100),  # percent (model choice)
)

# Spot-check records the device stores (model choice; PLXS leaves it to the device).
CAPACITY = 100
SAMPLE_INTERVAL = timedelta(seconds=1)  # the continuous measurement's rate

_PAI_DECIMALS = 1  # the pulse amplitude index is shown with one decimal (model choice)

# Battery (charge at power-on: HARDWARE): 1 % per half hour of streaming at 1 Hz and
# per 20 spot-checks (model choice).
_SAMPLES_PER_PERCENT = 1800
_SPOT_CHECKS_PER_PERCENT = 20


class Condition(StrEnum):
    """Why a measurement is not a plain good one, and so which status bits it carries."""

    ARTEFACT = "artefact"  # a motion dip: values sent, but flagged
    FAILED = "failed"  # the spot-check found no usable signal: NaN
    PROBE_OFF = "probe_off"  # no finger in the probe: NaN


# Condition -> (Measurement Status flags, Device and Sensor Status flags), PLXS 1.0.1
# bit meanings (devices.pulse_oximeter_status).
CONDITION_STATUS: MappingProxyType[Condition, tuple[frozenset[Flag], frozenset[Flag]]] = (
    MappingProxyType(
        {
            Condition.ARTEFACT: (
                frozenset({Flag.QUESTIONABLE}),
                frozenset({Flag.ERRATIC_SIGNAL, Flag.QUESTIONABLE_PULSE}),
            ),
            Condition.FAILED: (
                frozenset({Flag.MEASUREMENT_UNAVAILABLE}),
                frozenset({Flag.INADEQUATE_SIGNAL}),
            ),
            Condition.PROBE_OFF: (
                frozenset({Flag.MEASUREMENT_UNAVAILABLE}),
                frozenset({Flag.SENSOR_UNCONNECTED}),
            ),
        }
    )
)
_NO_STATUS: tuple[frozenset[Flag], frozenset[Flag]] = (frozenset(), frozenset())
_VALUELESS = frozenset({Condition.FAILED, Condition.PROBE_OFF})

FEATURES = PlxFeatures(
    supported_features=(
        PlxFeature.MEASUREMENT_STATUS
        | PlxFeature.DEVICE_SENSOR_STATUS
        | PlxFeature.SPOT_CHECK_STORAGE
        | PlxFeature.SPOT_CHECK_TIMESTAMP
        | PlxFeature.PULSE_AMPLITUDE_INDEX
    ),
    measurement_status_support=frozenset({Flag.FROM_STORAGE}).union(
        *(measurement for measurement, _ in CONDITION_STATUS.values())
    ),
    device_sensor_status_support=frozenset().union(
        *(device for _, device in CONDITION_STATUS.values())
    ),
)

# RACP requests this device carries out; any other request op code is not supported.
_SUPPORTED_OP_CODES = frozenset(
    {
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOpCode.ABORT_OPERATION,
        RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS,
    }
)

Indication = tuple[int, bytes]  # (characteristic UUID, value)


class SimulatedPulseOximeter:
    """One finger oximeter, on the patient modelled by ``physiology``.

    The clock starts set to ``device_tz`` wall time at ``physiology.anchor``
    (power-on), or unset in the ``clock_unset`` scenario: the device then counts from
    2000-01-01 and flags every spot-check "device clock is not set".
    """

    __slots__ = (
        "_battery_at_power_on",
        "_samples",
        "_spot_checks",
        "_storage",
        "clock",
        "identity",
        "physiology",
    )

    def __init__(
        self, physiology: Physiology, *, device_tz: tzinfo = UTC, clock_drift_ppm: float = 0.0
    ) -> None:
        self.physiology = physiology
        box = HARDWARE.power_on(physiology, device_tz=device_tz, clock_drift_ppm=clock_drift_ppm)
        self.identity: Identity = box.identity
        self.clock = box.clock
        self._battery_at_power_on = box.battery_percent
        self._samples = 0
        self._spot_checks = 0
        self._storage: deque[PlxSpotCheck] = deque(maxlen=CAPACITY)

    @property
    def address(self) -> str:
        return self.identity.address

    @property
    def stored(self) -> tuple[PlxSpotCheck, ...]:
        """The stored spot-checks as a download reports them, oldest first."""
        return tuple(self._storage)

    # -- measuring -------------------------------------------------------------------

    def spot_check(self, now: datetime) -> PlxSpotCheck:
        """Take a spot-check at ``now`` and store it; return it as indicated live (the
        stored copy differs only in the "from measurement storage" bit)."""
        index = self._spot_checks
        self._spot_checks += 1
        record = self._record(now, index=index, physiology=self.physiology)
        self._store(record)
        return record

    def remember(self, at: datetime, *, physiology: Physiology) -> PlxSpotCheck:
        """Store a spot-check taken at ``at`` before the device was switched on, of the
        patient as ``physiology`` then was (household.py); return it as stored. Which of
        them failed follows the minute of ``at``, not a count, so the same moment always
        gives the same record. Call before ``spot_check``, oldest first."""
        if self._spot_checks:
            raise ValueError("earlier records go in before the first spot-check")
        self._store(self._record(at, index=_minute(at), physiology=physiology))
        return self._storage[-1]

    def _record(self, now: datetime, *, index: int, physiology: Physiology) -> PlxSpotCheck:
        sample = physiology.oximetry(now)
        failure = physiology.profile.failure
        condition = _condition(sample)
        if failure is not None and index % failure.spot_check_every == 0:
            condition = Condition.FAILED
        spo2, pulse_rate, pai = _values(sample, condition)
        measurement, device = CONDITION_STATUS[condition] if condition else _NO_STATUS
        return PlxSpotCheck(
            spo2=spo2,
            pulse_rate=pulse_rate,
            timestamp=self.clock.read(now),
            measurement_status=measurement,
            device_sensor_status=device,
            pulse_amplitude_index=pai,
            device_clock_not_set=not self.clock.is_set,
        )

    def _store(self, record: PlxSpotCheck) -> None:
        self._storage.append(
            replace(
                record,
                measurement_status=(record.measurement_status or frozenset()) | {Flag.FROM_STORAGE},
            )
        )

    def continuous_measurement(self, at: datetime) -> PlxContinuous:
        """The 0x2A5F record for the second containing ``at``."""
        self._samples += 1
        sample = self.physiology.oximetry(at)
        condition = _condition(sample)
        spo2, pulse_rate, pai = _values(sample, condition)
        measurement, device = CONDITION_STATUS[condition] if condition else _NO_STATUS
        return PlxContinuous(
            spo2=spo2,
            pulse_rate=pulse_rate,
            measurement_status=measurement,
            device_sensor_status=device,
            pulse_amplitude_index=pai,
        )

    def continuous_samples(self, start: datetime, seconds: int) -> Iterator[tuple[datetime, bytes]]:
        """``seconds`` 0x2A5F notifications from ``start`` on, one a second: (time, bytes)."""
        for i in range(seconds):
            at = start + SAMPLE_INTERVAL * i
            yield at, encode_plx_continuous(self.continuous_measurement(at))

    # -- Record Access Control Point -------------------------------------------------

    def write_racp(self, data: bytes) -> list[Indication]:
        """A collector writes ``data`` to 0x2A52: the indications the device sends back,
        in order ((0x2A5E, record)... then (0x2A52, response)).

        Raises ParseError for an empty write, which ATT itself refuses.
        """
        if not data:
            raise ParseError("an RACP write needs an op code", offset=0)
        if data[0] not in _SUPPORTED_OP_CODES:
            # Echo whatever was sent, an RFU op code too (GSS record_access_control_point.yaml).
            return [_response(data[0], RacpResponseCode.OP_CODE_NOT_SUPPORTED)]
        op_code = RacpOpCode(data[0])
        try:
            request = parse_racp_request(data)
        except ParseError as exc:
            # The op code is fine (checked above): the operator is missing or RFU, or
            # the operand is longer than RACP allows.
            code = (
                RacpResponseCode.INVALID_OPERAND
                if exc.offset is not None and exc.offset > 1
                else RacpResponseCode.INVALID_OPERATOR
            )
            return [_response(op_code, code)]
        return self._carry_out(request)

    def _carry_out(self, request: RacpRequest) -> list[Indication]:
        op_code = request.op_code
        if op_code is RacpOpCode.ABORT_OPERATION:
            # Nothing runs in the background here, so there is always nothing to abort.
            if request.operator is not RacpOperator.NULL:
                return [_response(op_code, RacpResponseCode.INVALID_OPERATOR)]
            if request.operand:
                return [_response(op_code, RacpResponseCode.INVALID_OPERAND)]
            return [_response(op_code, RacpResponseCode.SUCCESS)]
        if request.operator is RacpOperator.NULL:
            return [_response(op_code, RacpResponseCode.INVALID_OPERATOR)]
        if request.operator is not RacpOperator.ALL_RECORDS:
            return [_response(op_code, RacpResponseCode.OPERATOR_NOT_SUPPORTED)]
        if request.operand:
            return [_response(op_code, RacpResponseCode.INVALID_OPERAND)]
        if op_code is RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS:
            count = encode_racp_response(RacpNumberOfRecords(count=len(self._storage)))
            return [(Characteristic.RECORD_ACCESS_CONTROL_POINT, count)]
        if op_code is RacpOpCode.DELETE_STORED_RECORDS:
            self._storage.clear()
            return [_response(op_code, RacpResponseCode.SUCCESS)]
        if not self._storage:
            return [_response(op_code, RacpResponseCode.NO_RECORDS_FOUND)]
        records: list[Indication] = [
            (Characteristic.PLX_SPOT_CHECK_MEASUREMENT, encode_plx_spot_check(record))
            for record in self._storage
        ]
        return [*records, _response(op_code, RacpResponseCode.SUCCESS)]

    # -- other characteristics -------------------------------------------------------

    def features(self) -> bytes:
        """Read 0x2A60."""
        return encode_plx_features(FEATURES)

    def battery_level(self) -> bytes:
        """Read 0x2A19."""
        used = self._samples // _SAMPLES_PER_PERCENT + self._spot_checks // _SPOT_CHECKS_PER_PERCENT
        return encode_battery_level(max(0, self._battery_at_power_on - used))

    def device_information(self) -> MappingProxyType[int, bytes]:
        """Read the 0x180A strings: UUID -> bytes."""
        return self.identity.device_information()

    def write_current_time(self, data: bytes, *, now: datetime) -> None:
        """A collector writes Current Time (0x2A2B) at ``now``: the clock is set.
        ParseError for bytes the device refuses."""
        self.clock.write_current_time(data, now=now)


def _minute(at: datetime) -> int:
    return math.floor(at.timestamp()) // 60


def _condition(sample: OximetrySample) -> Condition | None:
    if sample.probe_off:
        return Condition.PROBE_OFF
    if sample.artefact:
        return Condition.ARTEFACT
    return None


def _values(sample: OximetrySample, condition: Condition | None) -> tuple[Number, Number, Number]:
    """SpO2, pulse rate and PAI as the device sends them: whole % and /min, PAI to 0.1."""
    if condition in _VALUELESS:
        nan = AbsentReason.NOT_A_NUMBER
        return nan, nan, nan
    return (
        float(round(sample.spo2)),
        float(round(sample.pulse_rate)),
        round(sample.perfusion_index, _PAI_DECIMALS),
    )


def _response(op_code: RacpOpCode | int, code: RacpResponseCode) -> Indication:
    return (
        Characteristic.RECORD_ACCESS_CONTROL_POINT,
        encode_racp_response(RacpResponse(request_op_code=op_code, response_code=code)),
    )
