"""The reading: one quantity, measured once, by one device.

A blood-pressure cuff measurement becomes several readings (systolic, diastolic, mean
arterial pressure, pulse rate); an oximeter sample becomes SpO2, pulse rate and
perfusion index. Readings are long and narrow on purpose: a new quantity is one new
``Kind`` member and one row of ``KIND_CODES``, and nothing downstream changes.

The ``StrEnum`` values below are the wire and database strings themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    """What a reading measures."""

    SYSTOLIC = "systolic"
    DIASTOLIC = "diastolic"
    MEAN_ARTERIAL_PRESSURE = "mean_arterial_pressure"
    PULSE_RATE = "pulse_rate"
    SPO2 = "spo2"
    PERFUSION_INDEX = "perfusion_index"
    # Live cuff pressure while a measurement runs (0x2A36); never a clinical value.
    CUFF_PRESSURE = "cuff_pressure"


class Unit(StrEnum):
    """UCUM codes (https://ucum.org), exactly as FHIR ``valueQuantity.code`` wants them."""

    MMHG = "mm[Hg]"
    KPA = "kPa"
    PER_MINUTE = "/min"
    PERCENT = "%"


class AbsentReason(StrEnum):
    """Why a reading carries no number (IEEE 11073-20601 special values, device markers).

    The HL7 PHD IG maps these to FHIR ``dataAbsentReason``; a special value never
    becomes a number (0x07FF is NaN, not 2047).
    """

    NOT_A_NUMBER = "not_a_number"
    NOT_AT_THIS_RESOLUTION = "not_at_this_resolution"
    POSITIVE_INFINITY = "positive_infinity"
    NEGATIVE_INFINITY = "negative_infinity"
    RESERVED_VALUE = "reserved_value"
    # A proprietary device marked the value invalid (e.g. BerryMed SpO2 127, pulse 255).
    DEVICE_INVALID = "device_invalid"


class Flag(StrEnum):
    """Status a device (or the gateway) attached to a reading.

    Sources: Blood Pressure Measurement Status (GSS blood_pressure_measurement.yaml),
    PLX Measurement Status and Device and Sensor Status (SIG-XML, PLXS 1.0.1),
    the BerryMed BCI packet bits, and the gateway's own time handling.
    """

    # Blood Pressure Measurement Status, bits 0-5.
    BODY_MOVEMENT = "body_movement"
    CUFF_TOO_LOOSE = "cuff_too_loose"
    IRREGULAR_PULSE = "irregular_pulse"
    PULSE_ABOVE_RANGE = "pulse_above_range"
    PULSE_BELOW_RANGE = "pulse_below_range"
    IMPROPER_POSITION = "improper_position"
    # PLX Measurement Status, bits 5-15.
    MEASUREMENT_ONGOING = "measurement_ongoing"
    EARLY_ESTIMATE = "early_estimate"
    VALIDATED = "validated"
    FULLY_QUALIFIED = "fully_qualified"
    FROM_STORAGE = "from_storage"
    DEMONSTRATION = "demonstration"
    TESTING = "testing"
    CALIBRATION_ONGOING = "calibration_ongoing"
    MEASUREMENT_UNAVAILABLE = "measurement_unavailable"
    QUESTIONABLE = "questionable"
    INVALID = "invalid"
    # PLX Device and Sensor Status, bits 0-15.
    EXTENDED_DISPLAY_UPDATE = "extended_display_update"
    EQUIPMENT_MALFUNCTION = "equipment_malfunction"
    SIGNAL_PROCESSING_IRREGULARITY = "signal_processing_irregularity"
    INADEQUATE_SIGNAL = "inadequate_signal"
    POOR_SIGNAL = "poor_signal"
    LOW_PERFUSION = "low_perfusion"
    ERRATIC_SIGNAL = "erratic_signal"
    NONPULSATILE_SIGNAL = "nonpulsatile_signal"
    QUESTIONABLE_PULSE = "questionable_pulse"
    SIGNAL_ANALYSIS_ONGOING = "signal_analysis_ongoing"
    SENSOR_INTERFERENCE = "sensor_interference"
    SENSOR_UNCONNECTED = "sensor_unconnected"
    UNKNOWN_SENSOR = "unknown_sensor"
    SENSOR_DISPLACED = "sensor_displaced"
    SENSOR_MALFUNCTION = "sensor_malfunction"
    SENSOR_DISCONNECTED = "sensor_disconnected"
    # Proprietary oximeter streams (BerryMed BCI byte 0 and 2).
    PROBE_UNPLUGGED = "probe_unplugged"
    NO_FINGER = "no_finger"
    PULSE_SEARCH = "pulse_search"
    # Time handling: the device said its clock is not set, or sent no usable time,
    # so measured_at is the gateway's receive time.
    DEVICE_CLOCK_NOT_SET = "device_clock_not_set"
    RECEIVE_TIME = "receive_time"


@dataclass(frozen=True, slots=True, kw_only=True)
class KindCodes:
    """How a kind is coded in the terminologies Danish and international receivers use."""

    unit: Unit
    display: str
    loinc: str | None
    mdc: int | None  # IEEE 11073-10101 32-bit code (partition * 65536 + term code)
    npu: str | None  # Danish NPU/DNK lab code (urn:oid:1.2.208.176.2.1)
    medcom: str | None = None  # MedCom MCS code for home measurements


# Source: ../shared/reference/clinical.md section 2.3 (FUT value set, DK Core examples,
# OpenTele IupacCode.groovy) and 3.1 (perfusion index MDC derivation).
KIND_CODES: MappingProxyType[Kind, KindCodes] = MappingProxyType(
    {
        Kind.SYSTOLIC: KindCodes(
            unit=Unit.MMHG,
            display="Systolic blood pressure",
            loinc="8480-6",
            mdc=150021,  # MDC_PRESS_BLD_NONINV_SYS
            npu="DNK05472",
            medcom="MCS88019",
        ),
        Kind.DIASTOLIC: KindCodes(
            unit=Unit.MMHG,
            display="Diastolic blood pressure",
            loinc="8462-4",
            mdc=150022,  # MDC_PRESS_BLD_NONINV_DIA
            npu="DNK05473",
            medcom="MCS88020",
        ),
        Kind.MEAN_ARTERIAL_PRESSURE: KindCodes(
            unit=Unit.MMHG,
            display="Mean arterial pressure",
            loinc="8478-0",
            mdc=150023,  # MDC_PRESS_BLD_NONINV_MEAN
            npu=None,
        ),
        Kind.PULSE_RATE: KindCodes(
            unit=Unit.PER_MINUTE,
            display="Pulse rate",
            loinc="8867-4",
            # MDC_PULS_RATE_NON_INV (cuff); an oximeter's pulse is MDC_PULS_OXIM_PULS_RATE
            # 149530, which maps to the same LOINC (HL7 PHD IG ProfileConsumers.md).
            mdc=149546,
            npu="NPU21692",
        ),
        Kind.SPO2: KindCodes(
            unit=Unit.PERCENT,
            display="Oxygen saturation by pulse oximetry",
            loinc="59408-5",  # with 2708-6 as the FHIR vital-sign coding
            mdc=150456,  # MDC_PULS_OXIM_SAT_O2
            npu="NPU03011",  # NPU expresses it as a fraction (UCUM "1"): divide by 100 on export
        ),
        Kind.PERFUSION_INDEX: KindCodes(
            unit=Unit.PERCENT,
            display="Perfusion index (pulse amplitude index)",
            loinc=None,
            mdc=150448,  # MDC_PULS_OXIM_PERF_REL: partition 2, term 19376
            npu=None,
        ),
        Kind.CUFF_PRESSURE: KindCodes(
            unit=Unit.MMHG,
            display="Cuff pressure during measurement",
            loinc=None,
            mdc=150020,  # MDC_PRESS_BLD_NONINV (intermediate cuff pressure)
            npu=None,
        ),
    }
)

# 1 kPa in mmHg: 1000 Pa / 133.322387415 Pa per mmHg (ISO 80000-4 conventional mmHg).
MMHG_PER_KPA = 1000 / 133.322387415


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One quantity from one device at one instant.

    ``value`` is None exactly when ``absent_reason`` says why there is no number.
    ``measured_at`` is tz-aware UTC: the device's timestamp when it sent a usable one,
    else the gateway's receive time (flagged ``RECEIVE_TIME``). ``device_time`` is the
    device's own clock reading, naive, exactly as sent, kept for clock-skew audits.
    A value converted on decoding (kPa to mmHg) keeps what the device sent in
    ``original_value``/``original_unit``.
    """

    device_id: str
    kind: Kind
    value: float | None
    unit: Unit
    measured_at: datetime
    device_time: datetime | None = None
    flags: frozenset[Flag] = frozenset()
    absent_reason: AbsentReason | None = None
    original_value: float | None = None
    original_unit: Unit | None = None
    user_id: int | None = None
    continuous: bool = False

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ValueError("device_id must not be empty")
        if (self.value is None) == (self.absent_reason is None):
            raise ValueError("exactly one of value and absent_reason must be given")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"value must be finite, got {self.value!r}")
        if self.measured_at.utcoffset() != timedelta(0):
            raise ValueError("measured_at must be timezone-aware UTC")
        if self.device_time is not None and self.device_time.tzinfo is not None:
            raise ValueError("device_time is the device's wall clock and must be naive")
        if (self.original_value is None) != (self.original_unit is None):
            raise ValueError("original_value and original_unit go together")
        if self.user_id is not None and not 0 <= self.user_id <= 0xFF:
            raise ValueError(f"user_id must fit a byte, got {self.user_id}")

    @property
    def codes(self) -> KindCodes:
        return KIND_CODES[self.kind]


_new = object.__new__
# The slots' own setters: they write a frozen instance's fields without __setattr__.
# Unpacking fails at import when a field is added here but not below.
(
    _set_device_id,
    _set_kind,
    _set_value,
    _set_unit,
    _set_measured_at,
    _set_device_time,
    _set_flags,
    _set_absent_reason,
    _set_original_value,
    _set_original_unit,
    _set_user_id,
    _set_continuous,
) = (getattr(Reading, field.name).__set__ for field in fields(Reading))


def prechecked_reading(
    *,
    device_id: str,
    kind: Kind,
    value: float | None,
    unit: Unit,
    measured_at: datetime,
    device_time: datetime | None,
    flags: frozenset[Flag],
    absent_reason: AbsentReason | None,
    original_value: float | None,
    original_unit: Unit | None,
    user_id: int | None,
    continuous: bool,
) -> Reading:
    """The Reading of these fields, built without running ``Reading.__post_init__``.

    Only for a decoder on a hot path that has already established every invariant
    ``__post_init__`` checks, with the types given here (gateway.fast_path does, and the
    tests compare the two ways of building); anything else calls ``Reading(...)``.
    Building a validated reading costs about twice as much, and ingest builds one per
    stored value.
    """
    reading: Reading = _new(Reading)
    _set_device_id(reading, device_id)
    _set_kind(reading, kind)
    _set_value(reading, value)
    _set_unit(reading, unit)
    _set_measured_at(reading, measured_at)
    _set_device_time(reading, device_time)
    _set_flags(reading, flags)
    _set_absent_reason(reading, absent_reason)
    _set_original_value(reading, original_value)
    _set_original_unit(reading, original_unit)
    _set_user_id(reading, user_id)
    _set_continuous(reading, continuous)
    return reading


def utc_now() -> datetime:
    """The current time, tz-aware UTC (one place to read the clock)."""
    return datetime.now(UTC)
