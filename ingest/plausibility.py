"""Physiological plausibility: which decoded readings are quarantined instead of stored.

A reading that decodes but cannot be true (an SpO2 of 104 %, a systolic pressure below
the diastolic one, a timestamp from the future) must never reach a chart or raise an
alert; it is kept aside with the reason (ARCHITECTURE.md, "Clinical semantics"). The
rules are data: ``READING_RULES`` judge one reading, ``MEASUREMENT_RULES`` judge the
readings of one measurement (same device, user slot and measured_at) together. A reading
without a value (``absent_reason``) is judged only by its timestamp.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from devices.reading import Kind, Reading

# SpO2 is the oxygenated share of haemoglobin: above 100 % it cannot be.
SPO2_MAX_PERCENT = 100.0
# The pulse-rate range the Ingest and storage issue (#3) sets as plausible; oximeters
# themselves specify narrower display ranges (typically 25-250 /min).
PULSE_MIN_PER_MINUTE = 20.0
PULSE_MAX_PER_MINUTE = 300.0
# How far past "now" a measured_at may lie before it counts as the future: the gateway
# sets device clocks, so more than a few minutes means a wrong clock. Five minutes is the
# customary bound (Kerberos' default maximum clock skew, RFC 4120 section 1.6 / MIT krb5
# clockskew = 300 s).
DEFAULT_SKEW = timedelta(minutes=5)

BLOOD_PRESSURE_KINDS = frozenset({Kind.SYSTOLIC, Kind.DIASTOLIC, Kind.MEAN_ARTERIAL_PRESSURE})


class QuarantineReason(StrEnum):
    """Why a reading was quarantined (the value is stored in quarantined_readings.reason)."""

    MEASURED_IN_FUTURE = "measured_in_future"
    NEGATIVE_VALUE = "negative_value"
    SPO2_ABOVE_100 = "spo2_above_100"
    PULSE_OUT_OF_RANGE = "pulse_out_of_range"
    SYSTOLIC_NOT_ABOVE_DIASTOLIC = "systolic_not_above_diastolic"


@dataclass(frozen=True, slots=True, kw_only=True)
class Quarantined:
    reading: Reading
    reason: QuarantineReason


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingRule:
    """Quarantine one reading when ``implausible(reading, latest_plausible_time)``."""

    reason: QuarantineReason
    implausible: Callable[[Reading, datetime], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementRule:
    """Quarantine the readings of ``kinds`` in a measurement whose values are implausible.

    ``implausible`` sees the measurement's values by kind (absent values left out).
    """

    reason: QuarantineReason
    kinds: frozenset[Kind]
    implausible: Callable[[Mapping[Kind, float]], bool]


def _in_future(reading: Reading, latest: datetime) -> bool:
    return reading.measured_at > latest


def _negative(reading: Reading, _latest: datetime) -> bool:
    return reading.value is not None and reading.value < 0


def _spo2_above_100(reading: Reading, _latest: datetime) -> bool:
    return (
        reading.kind is Kind.SPO2 and reading.value is not None and reading.value > SPO2_MAX_PERCENT
    )


def _pulse_out_of_range(reading: Reading, _latest: datetime) -> bool:
    return (
        reading.kind is Kind.PULSE_RATE
        and reading.value is not None
        and not PULSE_MIN_PER_MINUTE <= reading.value <= PULSE_MAX_PER_MINUTE
    )


def _systolic_not_above_diastolic(values: Mapping[Kind, float]) -> bool:
    systolic, diastolic = values.get(Kind.SYSTOLIC), values.get(Kind.DIASTOLIC)
    return systolic is not None and diastolic is not None and systolic <= diastolic


# Walked in order; a reading gets the reason of the first rule it breaks.
READING_RULES: tuple[ReadingRule, ...] = (
    ReadingRule(reason=QuarantineReason.MEASURED_IN_FUTURE, implausible=_in_future),
    ReadingRule(reason=QuarantineReason.NEGATIVE_VALUE, implausible=_negative),
    ReadingRule(reason=QuarantineReason.SPO2_ABOVE_100, implausible=_spo2_above_100),
    ReadingRule(reason=QuarantineReason.PULSE_OUT_OF_RANGE, implausible=_pulse_out_of_range),
)

MEASUREMENT_RULES: tuple[MeasurementRule, ...] = (
    # A cuff that reports systolic <= diastolic mis-measured the whole pressure curve, so
    # MAP goes too; the pulse rate is counted separately and is judged on its own.
    MeasurementRule(
        reason=QuarantineReason.SYSTOLIC_NOT_ABOVE_DIASTOLIC,
        kinds=BLOOD_PRESSURE_KINDS,
        implausible=_systolic_not_above_diastolic,
    ),
)


def check(
    readings: Iterable[Reading], *, now: datetime, skew: timedelta = DEFAULT_SKEW
) -> tuple[tuple[Reading, ...], tuple[Quarantined, ...]]:
    """Split readings into (accepted, quarantined with reason), each in input order."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    readings = tuple(readings)
    latest = now + skew
    reasons: dict[int, QuarantineReason] = {}
    for index, reading in enumerate(readings):
        for rule in READING_RULES:
            if rule.implausible(reading, latest):
                reasons[index] = rule.reason
                break
    measurements: defaultdict[tuple[str, int | None, datetime], list[int]] = defaultdict(list)
    for index, reading in enumerate(readings):
        if index not in reasons:
            measurements[(reading.device_id, reading.user_id, reading.measured_at)].append(index)
    for indices in measurements.values():
        values = {
            readings[i].kind: value for i in indices if (value := readings[i].value) is not None
        }
        for measurement_rule in MEASUREMENT_RULES:
            if measurement_rule.implausible(values):
                for i in indices:
                    if readings[i].kind in measurement_rule.kinds:
                        reasons.setdefault(i, measurement_rule.reason)
    accepted = tuple(r for i, r in enumerate(readings) if i not in reasons)
    quarantined = tuple(
        Quarantined(reading=readings[i], reason=reason) for i, reason in sorted(reasons.items())
    )
    return accepted, quarantined
