"""Thresholds: a patient's limits for one kind, and which limits were in force when.

A ``Threshold`` follows OpenTele's NumericThreshold (reference: clinical.md 1.5): red
low < yellow low < yellow high < red high, any of them absent. A limit is the last value
still acceptable: a value breaches it only when strictly beyond it, as OpenTele's
``ThresholdPredicate`` compares (``value > high``, ``value < low``;
silverbullet-dk/opentele-server-core-plugin ThresholdPredicate.groovy). Red is judged
before yellow, so a value beyond both limits on one side is red.

Every change of a patient's thresholds is a ``ThresholdVersion`` (a threshold_history
row, ingest/migrations/0005): a reading is judged by the version in force at its
``measured_at`` (``ThresholdBook.in_force``), and an alert keeps the version's
``snapshot()``. Pure: no I/O here.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

from devices.reading import Kind


class Severity(StrEnum):
    """An alert's colour; the value is the alerts.severity string."""

    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self]


# OpenTele's Severity enum orders BLUE below YELLOW below RED (clinical.md 1.5 and 1.6):
# a missing measurement ranks below any breached limit.
SEVERITY_RANK: MappingProxyType[Severity, int] = MappingProxyType(
    {Severity.BLUE: 1, Severity.YELLOW: 2, Severity.RED: 3}
)


class Direction(StrEnum):
    """Which side of the acceptable band a value left (part of an alert's condition)."""

    LOW = "low"
    HIGH = "high"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """A value beyond a limit: how bad, which side, and the limit it crossed."""

    severity: Severity
    direction: Direction
    limit: float


LIMIT_NAMES = ("red_low", "yellow_low", "yellow_high", "red_high")


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One patient's limits for one kind, in the kind's unit (devices.reading.KIND_CODES)."""

    kind: Kind
    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def __post_init__(self) -> None:
        present = [(name, getattr(self, name)) for name in LIMIT_NAMES]
        for name, value in present:
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        limits = [(name, value) for name, value in present if value is not None]
        for (lower_name, lower), (upper_name, upper) in pairwise(limits):
            if not lower < upper:
                raise ValueError(
                    f"{self.kind} limits must rise strictly: {lower_name} {lower} "
                    f"is not below {upper_name} {upper}"
                )

    @property
    def limits(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}

    def judge(self, value: float) -> Breach | None:
        """The breach ``value`` makes, or None when it is inside every present limit.

        A value equal to a limit is inside; NaN and infinities never breach (a device
        that sends no number has nothing to compare, reference: clinical.md 2.2).
        """
        if not math.isfinite(value):
            return None
        for severity, low, high in (
            (Severity.RED, self.red_low, self.red_high),
            (Severity.YELLOW, self.yellow_low, self.yellow_high),
        ):
            if low is not None and value < low:
                return Breach(severity=severity, direction=Direction.LOW, limit=low)
            if high is not None and value > high:
                return Breach(severity=severity, direction=Direction.HIGH, limit=high)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdVersion:
    """A threshold as it was in force from ``valid_from`` (one threshold_history row)."""

    patient_id: int
    threshold: Threshold
    valid_from: datetime
    program: str | None = None
    changed_by: int | None = None
    history_id: int | None = None

    def __post_init__(self) -> None:
        if self.valid_from.utcoffset() is None:
            raise ValueError("valid_from must be timezone-aware")

    def snapshot(self) -> dict[str, object]:
        """What an alert stores of the limits it used (alerts.thresholds, JSON)."""
        return {
            "history_id": self.history_id,
            "kind": self.threshold.kind.value,
            **self.threshold.limits,
            "program": self.program,
            "changed_by": self.changed_by,
            "valid_from": self.valid_from.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ThresholdBook:
    """Every known version per (patient, kind), answering "which was in force at t"."""

    _versions: Mapping[tuple[int, Kind], tuple[ThresholdVersion, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def of(cls, versions: Iterable[ThresholdVersion]) -> ThresholdBook:
        grouped: dict[tuple[int, Kind], list[ThresholdVersion]] = {}
        for version in versions:
            grouped.setdefault((version.patient_id, version.threshold.kind), []).append(version)
        return cls(
            MappingProxyType(
                {key: tuple(sorted(found, key=_version_order)) for key, found in grouped.items()}
            )
        )

    def in_force(self, patient_id: int, kind: Kind, at: datetime) -> ThresholdVersion | None:
        """The latest version with ``valid_from <= at``; None before the first one."""
        versions = self._versions.get((patient_id, kind), ())
        index = bisect.bisect_right(versions, at, key=_valid_from)
        return versions[index - 1] if index else None


def _valid_from(version: ThresholdVersion) -> datetime:
    return version.valid_from


def _version_order(version: ThresholdVersion) -> tuple[datetime, int]:
    # Two changes in one instant: the later history row wins, as it was written last.
    return (version.valid_from, version.history_id or 0)
