"""Alert rules put together: readings x thresholds -> alert candidates. Pure.

Ingest calls ``evaluate`` for every stored batch (ingest/evaluation.py gathers its
inputs from the database); the watchdog runs the time-based rules (missing measurements,
gateways, devices) itself. The rules (ingest/rules/) in one sentence each:

    spot        a spot reading beyond a limit in force at its measured_at raises at once
    sustained   a continuous stream raises when 90 % of a 60 s (red) or 5 min (yellow)
                span is beyond the limit; single dips and flagged samples never do
    irregular   a cuff measurement flagged "irregular pulse" raises its own alert
    clock       a device without a usable clock is a technical alert
    repeated    three implausible or failed measurements of a device in a day, likewise

Readings without a value, flagged unreliable, or quarantined as implausible never raise
a clinical alert. The candidates come back merged, one per alert key
(``ingest.alert.combine``), ready for ``ingest.alert_store.apply_candidates``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.reading import Kind
from ingest.alert import (
    Alert,
    AlertCandidate,
    Audience,
    TechnicalCondition,
    combine,
)
from ingest.rules.observation import Observation, value_in_kind_unit
from ingest.rules.settings import RuleSettings
from ingest.rules.spot import irregular_pulse_candidates, spot_candidates
from ingest.rules.sustained import Sample, sustained_candidates, window_around
from ingest.rules.technical import clock_candidates, repeated_candidate
from ingest.threshold import ThresholdBook

__all__ = [
    "Alert",
    "AlertCandidate",
    "Audience",
    "Occurrences",
    "Stream",
    "evaluate",
    "failed_spot_measurements",
    "streams_needed",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """A patient's continuous samples of one kind around new ones (see rules/sustained.py)."""

    patient_id: int
    kind: Kind
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Occurrences:
    """How often a device did something in the repeated rule's window, ``new`` of them now."""

    condition: TechnicalCondition
    device_id: str
    occurrences: int
    new: int
    first_at: datetime
    last_at: datetime


def evaluate(
    observations: Sequence[Observation],
    *,
    book: ThresholdBook,
    settings: RuleSettings,
    streams: Iterable[Stream] = (),
    measured_in_future: Iterable[Observation] = (),
    repeated: Iterable[Occurrences] = (),
) -> tuple[AlertCandidate, ...]:
    """Every rule that judges readings on arrival, merged per alert key.

    ``observations`` are the newly stored readings; ``streams`` the stored continuous
    samples ``streams_needed`` asked for; ``measured_in_future`` the readings plausibility
    quarantined for a timestamp in the future (a clock ahead); ``repeated`` the counts of
    the repeated-measurement rule.
    """
    candidates: list[AlertCandidate] = [
        *spot_candidates(observations, book, settings),
        *irregular_pulse_candidates(observations, settings),
        *clock_candidates(observations, measured_in_future=measured_in_future),
    ]
    for stream in streams:
        candidates += sustained_candidates(
            stream.patient_id, stream.kind, stream.samples, book, settings
        )
    for found in repeated:
        candidate = repeated_candidate(
            found.condition,
            found.device_id,
            occurrences=found.occurrences,
            new=found.new,
            first_at=found.first_at,
            last_at=found.last_at,
            settings=settings,
        )
        if candidate is not None:
            candidates.append(candidate)
    return combine(candidates)


def streams_needed(
    observations: Iterable[Observation], book: ThresholdBook, settings: RuleSettings
) -> dict[tuple[int, Kind], tuple[datetime, datetime]]:
    """The stored samples to load, per (patient, kind): only where a new one breaches.

    A new sample inside every limit cannot make a breach sustained (rules/sustained.py),
    so a stream that stays in range costs no query at all.
    """
    times: defaultdict[tuple[int, Kind], list[datetime]] = defaultdict(list)
    for observation in observations:
        reading, patient_id = observation.reading, observation.patient_id
        if not reading.continuous or patient_id is None or not observation.usable:
            continue
        value = value_in_kind_unit(reading)
        version = book.in_force(patient_id, reading.kind, reading.measured_at)
        if value is not None and version is not None and version.threshold.judge(value):
            times[(patient_id, reading.kind)].append(reading.measured_at)
    return {key: window_around(found, settings) for key, found in times.items()}


def failed_spot_measurements(observations: Iterable[Observation]) -> dict[str, set[datetime]]:
    """Per device, the instants of spot measurements that came without a value."""
    failed: defaultdict[str, set[datetime]] = defaultdict(set)
    for observation in observations:
        reading = observation.reading
        if reading.value is None and not reading.continuous:
            failed[reading.device_id].add(reading.measured_at)
    return dict(failed)
