"""Physiological plausibility: which decoded readings are quarantined instead of stored.

A reading that decodes but cannot be true (an SpO2 of 104 %, a systolic pressure below
the diastolic one, a timestamp from the future) must never reach a chart or raise an
alert; it is kept aside with the reason (ARCHITECTURE.md, "Clinical semantics"). The
rules are data: a measured_at beyond now plus the skew tolerance comes first, then
``READING_RULES`` (a plausible range per kind) judge one reading, and
``MEASUREMENT_RULES`` judge the readings of one measurement (same device, user slot and
measured_at) together. A reading without a value (``absent_reason``) is judged only by
its timestamp.

Ingest judges every reading it receives, so the common case is cheap: the reading rules
are folded into one range per kind, and measurements are grouped only when one holds a
kind a measurement rule looks at.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

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
    """Quarantine a reading of one of ``kinds`` whose value lies outside ``low..high``.

    Both bounds are inclusive; a reading without a value (``absent_reason``) passes.
    """

    reason: QuarantineReason
    kinds: frozenset[Kind] = frozenset(Kind)
    low: float = -math.inf
    high: float = math.inf


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementRule:
    """Quarantine the readings of ``kinds`` in a measurement whose values are implausible.

    ``implausible`` sees the measurement's values by kind (absent values left out).
    """

    reason: QuarantineReason
    kinds: frozenset[Kind]
    implausible: Callable[[Mapping[Kind, float]], bool]


def _systolic_not_above_diastolic(values: Mapping[Kind, float]) -> bool:
    systolic, diastolic = values.get(Kind.SYSTOLIC), values.get(Kind.DIASTOLIC)
    return systolic is not None and diastolic is not None and systolic <= diastolic


# Judged first, on every reading, with or without a value.
FUTURE_REASON = QuarantineReason.MEASURED_IN_FUTURE

# Then walked in order; a reading gets the reason of the first rule it breaks.
READING_RULES: tuple[ReadingRule, ...] = (
    ReadingRule(reason=QuarantineReason.NEGATIVE_VALUE, low=0.0),
    ReadingRule(
        reason=QuarantineReason.SPO2_ABOVE_100,
        kinds=frozenset({Kind.SPO2}),
        high=SPO2_MAX_PERCENT,
    ),
    ReadingRule(
        reason=QuarantineReason.PULSE_OUT_OF_RANGE,
        kinds=frozenset({Kind.PULSE_RATE}),
        low=PULSE_MIN_PER_MINUTE,
        high=PULSE_MAX_PER_MINUTE,
    ),
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

# The range READING_RULES leave plausible for each kind (the intersection of theirs):
# a value inside breaks no rule, so a plausible reading costs one comparison.
_PLAUSIBLE: Mapping[Kind, tuple[float, float]] = MappingProxyType(
    {
        kind: (
            max((rule.low for rule in READING_RULES if kind in rule.kinds), default=-math.inf),
            min((rule.high for rule in READING_RULES if kind in rule.kinds), default=math.inf),
        )
        for kind in Kind
    }
)
# A measurement rule can quarantine only readings of its kinds: a measurement holding
# none of them need not be grouped.
_MEASURED_KINDS: frozenset[Kind] = frozenset().union(*(r.kinds for r in MEASUREMENT_RULES))

MeasurementKey = tuple[str, int | None, datetime]


def check(
    readings: Iterable[Reading], *, now: datetime, skew: timedelta = DEFAULT_SKEW
) -> tuple[tuple[Reading, ...], tuple[Quarantined, ...]]:
    """Split readings into (accepted, quarantined with reason), each in input order."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    readings = tuple(readings)
    latest = now + skew
    reasons: dict[int, QuarantineReason] = {}
    measured: set[MeasurementKey] = set()
    for index, reading in enumerate(readings):
        if reading.measured_at > latest:
            reasons[index] = FUTURE_REASON
            continue
        value, kind = reading.value, reading.kind
        if value is not None:
            low, high = _PLAUSIBLE[kind]
            if not low <= value <= high:
                reasons[index] = _broken_rule(kind, value).reason
                continue
        if kind in _MEASURED_KINDS:
            measured.add((reading.device_id, reading.user_id, reading.measured_at))
    if measured:
        _judge_measurements(readings, measured, reasons)
    if not reasons:
        return readings, ()
    accepted = tuple(r for i, r in enumerate(readings) if i not in reasons)
    quarantined = tuple(
        Quarantined(reading=readings[i], reason=reason) for i, reason in sorted(reasons.items())
    )
    return accepted, quarantined


def _broken_rule(kind: Kind, value: float) -> ReadingRule:
    """The first of READING_RULES that a value outside the kind's range breaks."""
    return next(
        rule for rule in READING_RULES if kind in rule.kinds and not rule.low <= value <= rule.high
    )


def _judge_measurements(
    readings: tuple[Reading, ...],
    measured: set[MeasurementKey],
    reasons: dict[int, QuarantineReason],
) -> None:
    """Add what MEASUREMENT_RULES say of the ``measured`` measurements to ``reasons``.

    A measurement is its readings that no reading rule quarantined already.
    """
    measurements: defaultdict[MeasurementKey, list[int]] = defaultdict(list)
    for index, reading in enumerate(readings):
        key = (reading.device_id, reading.user_id, reading.measured_at)
        if key in measured and index not in reasons:
            measurements[key].append(index)
    for indices in measurements.values():
        values = {
            readings[i].kind: value for i in indices if (value := readings[i].value) is not None
        }
        for measurement_rule in MEASUREMENT_RULES:
            if measurement_rule.implausible(values):
                for i in indices:
                    if readings[i].kind in measurement_rule.kinds:
                        reasons.setdefault(i, measurement_rule.reason)
