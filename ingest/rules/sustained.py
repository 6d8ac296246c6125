"""Continuous streams: a breach raises only when it is sustained.

A 1 Hz oximeter stream dips for a second whenever the patient moves; paging someone
for that is how alarm fatigue starts (reference: perf.md 6, clinical.md 5.6). So a
continuous breach counts only when it lasts, as ThingsBoard's duration conditions and
xDrip's "outside x for n minutes" do (clinical.md 4.3, 4.4):

    time is cut into slots of ``sample_interval`` (1 s); a span is ``n`` slots of the
    severity's duration (red 60 s, yellow 5 min: RuleSettings). A span is *sustained*
    when at least ``ceil(min_coverage * n)`` of its slots hold a usable sample beyond
    the limit at that severity or worse. The readings that alert are the breaching
    samples inside sustained spans.

A single-sample dip fills one slot of 60, so it never raises; flagged samples are not
usable and fill nothing. Each sample is judged by the thresholds in force at its own
``measured_at``.

Order does not matter: adding a sample can only fill slots, so the set of alerting
samples only grows, and each evaluation counts the samples that joined it because of
its new samples (``Sample.new``) among the stored ones around them. Summed over any
arrival order or batch split, that is every alerting sample once. The window of stored
samples an evaluation needs is ``window_around``: two spans either side, enough to know
which old samples were already alerting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from devices.reading import Kind
from ingest.alert import AlertCandidate, Audience, threshold_condition
from ingest.rules.settings import RuleSettings
from ingest.threshold import Breach, Direction, Severity, ThresholdBook, ThresholdVersion

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TIERS = (Severity.RED, Severity.YELLOW)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One continuous reading of a patient's stream, as the rule needs it.

    ``value`` is in the kind's unit (None: absent); ``new`` marks the samples this
    evaluation is about (just stored), the others were stored before.
    """

    measured_at: datetime
    value: float | None
    usable: bool
    received_at: datetime
    new: bool


def window_around(times: Iterable[datetime], settings: RuleSettings) -> tuple[datetime, datetime]:
    """The ``[start, end]`` of stored samples to evaluate new samples at ``times`` with."""
    found = list(times)
    if not found:
        raise ValueError("no sample times given")
    margin = 2 * settings.longest_sustained + settings.sample_interval
    return min(found) - margin, max(found) + margin


def sustained_candidates(
    patient_id: int,
    kind: Kind,
    samples: Sequence[Sample],
    book: ThresholdBook,
    settings: RuleSettings,
) -> list[AlertCandidate]:
    """Candidates for the samples that joined a sustained breach because of the new ones."""
    breaches = [_breach(s, book.in_force(patient_id, kind, s.measured_at)) for s in samples]
    new = np.array([s.new for s in samples], dtype=np.bool_)
    candidates = []
    for direction in Direction:
        levels = np.array(
            [b.severity.rank if b and b.direction is direction else 0 for b in breaches],
            dtype=np.int64,
        )
        if not np.any(new & (levels >= Severity.YELLOW.rank)):
            continue
        found = _alerting(samples, levels, new, settings)
        if found is None:
            continue
        chosen, count, severity = found
        picked = [s for s, take in zip(samples, chosen, strict=True) if take]
        last = max(picked, key=lambda s: s.measured_at)
        values = [s.value for s in picked if s.value is not None]
        version = book.in_force(patient_id, kind, last.measured_at)
        candidates.append(
            AlertCandidate(
                condition=threshold_condition(kind, direction),
                audience=Audience.CLINICAL,
                severity=severity,
                patient_id=patient_id,
                kind=kind,
                first_at=min(s.measured_at for s in picked),
                last_at=last.measured_at,
                count=count,
                worst_value=min(values) if direction is Direction.LOW else max(values),
                direction=direction,
                thresholds=None if version is None else version.snapshot(),
                late=any(s.received_at - s.measured_at > settings.late_after for s in picked),
            )
        )
    return candidates


def _breach(sample: Sample, version: ThresholdVersion | None) -> Breach | None:
    if not sample.usable or sample.value is None or version is None:
        return None
    return version.threshold.judge(sample.value)


def _alerting(
    samples: Sequence[Sample], levels: IntArray, new: BoolArray, settings: RuleSettings
) -> tuple[BoolArray, int, Severity] | None:
    """(samples to report, how many newly alert, severity) or None when nothing changed."""
    interval = settings.sample_interval // _MICROSECOND
    slots = np.array([(s.measured_at - _EPOCH) // _MICROSECOND for s in samples], dtype=np.int64)
    slots //= interval
    now_in: dict[Severity, BoolArray] = {}
    before_in: dict[Severity, BoolArray] = {}
    for tier in _TIERS:
        span = max(1, round(settings.sustained_for(tier) / settings.sample_interval))
        needed = math.ceil(round(settings.min_coverage * span, 9))
        breaching = levels >= tier.rank
        now_in[tier] = _in_sustained(slots, breaching, span=span, needed=needed)
        before_in[tier] = _in_sustained(slots, breaching & ~new, span=span, needed=needed)
    # New samples are never "before"; old ones count when their span became sustained now.
    counted = (now_in[Severity.RED] | now_in[Severity.YELLOW]) & ~(
        before_in[Severity.RED] | before_in[Severity.YELLOW]
    )
    red_grew = now_in[Severity.RED] & ~before_in[Severity.RED]
    if not counted.any() and not red_grew.any():
        return None
    severity = Severity.RED if red_grew.any() else Severity.YELLOW
    chosen = counted if counted.any() else red_grew
    return chosen, int(counted.sum()), severity


def _in_sustained(slots: IntArray, breaching: BoolArray, *, span: int, needed: int) -> BoolArray:
    """Per sample: breaching and inside a span of ``span`` slots with ``needed`` filled."""
    result = np.zeros(len(slots), dtype=np.bool_)
    if not breaching.any():
        return result
    low = int(slots[breaching].min())
    high = int(slots[breaching].max())
    pad = span - 1
    filled = np.zeros(high - low + 1 + 2 * pad, dtype=np.int64)
    filled[slots[breaching] - low + pad] = 1
    sums = np.concatenate(([0], np.cumsum(filled)))
    starts = np.flatnonzero(sums[span:] - sums[:-span] >= needed)
    if starts.size == 0:
        return result
    edges = np.zeros(len(filled) + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + span, -1)
    covered = np.cumsum(edges)[: len(filled)] > 0
    index = slots - low + pad
    inside = (index >= 0) & (index < len(filled))
    result[inside] = covered[index[inside]]
    return result & breaching
