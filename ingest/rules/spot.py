"""Spot readings: one measurement beyond a limit raises at once; the irregular-pulse flag.

A spot reading (a cuff measurement, an oximeter spot-check) is a deliberate measurement,
so one is enough (OpenTele judges every uploaded measurement at upload, clinical.md 1.5).
It is judged by the thresholds in force at its ``measured_at``; a disturbed reading is
capped (ingest/rules/observation.py). Continuous samples are the sustained rule's.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.reading import Flag, Kind
from ingest.alert import IRREGULAR_PULSE, AlertCandidate, Audience, threshold_condition
from ingest.rules.observation import DISTURBED_FLAGS, Observation, value_in_kind_unit
from ingest.rules.settings import RuleSettings
from ingest.threshold import Severity, ThresholdBook

# Every reading of a cuff measurement carries its status flags; the systolic one stands
# for the measurement, so an irregular pulse counts once per measurement.
IRREGULAR_PULSE_KIND = Kind.SYSTOLIC


def spot_candidates(
    observations: Iterable[Observation], book: ThresholdBook, settings: RuleSettings
) -> list[AlertCandidate]:
    """A candidate for every usable, attributed spot reading beyond a limit in force."""
    candidates = []
    for observation in observations:
        reading, patient_id = observation.reading, observation.patient_id
        if reading.continuous or patient_id is None or not observation.usable:
            continue
        value = value_in_kind_unit(reading)
        version = book.in_force(patient_id, reading.kind, reading.measured_at)
        if value is None or version is None:
            continue
        breach = version.threshold.judge(value)
        if breach is None:
            continue
        severity = breach.severity
        if reading.flags & DISTURBED_FLAGS and severity.rank > settings.disturbed_at_most.rank:
            severity = settings.disturbed_at_most
        candidates.append(
            AlertCandidate(
                condition=threshold_condition(reading.kind, breach.direction),
                audience=Audience.CLINICAL,
                severity=severity,
                patient_id=patient_id,
                kind=reading.kind,
                first_at=reading.measured_at,
                last_at=reading.measured_at,
                worst_value=value,
                direction=breach.direction,
                thresholds=version.snapshot(),
                late=observation.is_late(settings),
            )
        )
    return candidates


def irregular_pulse_candidates(
    observations: Iterable[Observation], settings: RuleSettings
) -> list[AlertCandidate]:
    """A candidate per usable cuff measurement flagged with an irregular pulse."""
    severity: Severity | None = settings.irregular_pulse
    if severity is None:
        return []
    return [
        AlertCandidate(
            condition=IRREGULAR_PULSE,
            audience=Audience.CLINICAL,
            severity=severity,
            patient_id=observation.patient_id,
            kind=IRREGULAR_PULSE_KIND,
            first_at=observation.reading.measured_at,
            last_at=observation.reading.measured_at,
            late=observation.is_late(settings),
        )
        for observation in observations
        if observation.patient_id is not None
        and observation.reading.kind is IRREGULAR_PULSE_KIND
        and not observation.reading.continuous
        and observation.usable
        and Flag.IRREGULAR_PULSE in observation.reading.flags
    ]
