"""Alerts: what a rule proposes (``AlertCandidate``) and what is stored (``Alert``).

A condition names what is wrong, and with the subject (patient, device or gateway) it
keys the alert: one open alert per key (the alerts_one_open index, ingest/migrations/
0005). Clinical conditions go to the patient's care teams, technical ones to the fleet
of the owning organization, never the other way round (ARCHITECTURE.md, "Clinical
semantics"):

    <kind>_low, <kind>_high   a reading beyond a threshold ("spo2_low", "systolic_high")
    missing_<kind>            a scheduled measurement did not come ("missing_spo2"), blue
    irregular_pulse           the cuff flagged an irregular pulse
    TechnicalCondition        gateway offline, battery low, device silent, clock skew,
                              implausible or failed measurements, outbox full

Candidates merge (``combine``) the way the store merges them into an open alert: counts
add up, the earliest first and latest last time win, the worst value is the lowest for a
low condition and the highest for a high one, severity only rises. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from devices.reading import Kind
from ingest.threshold import Direction, Severity

IRREGULAR_PULSE = "irregular_pulse"

AlertKey = tuple[str, int | None, str | None, str | None]


class Audience(StrEnum):
    """Who sees an alert (alerts.audience)."""

    CLINICAL = "clinical"
    TECHNICAL = "technical"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TechnicalCondition(StrEnum):
    """Device and gateway trouble, for the fleet (alerts.condition)."""

    GATEWAY_OFFLINE = "gateway_offline"
    OUTBOX_FULL = "outbox_full"
    BATTERY_LOW = "battery_low"
    DEVICE_SILENT = "device_silent"
    CLOCK_SKEW = "clock_skew"
    IMPLAUSIBLE_READINGS = "implausible_readings"
    FAILED_MEASUREMENTS = "failed_measurements"


def threshold_condition(kind: Kind, direction: Direction) -> str:
    return f"{kind.value}_{direction.value}"


def missing_condition(kind: Kind) -> str:
    return f"missing_{kind.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertCandidate:
    """What one rule found: applied to the open alert of its key, or raising a new one.

    ``count`` is how many new breaches it adds (0: the condition still holds, nothing new
    happened, as for a gateway that is still offline). ``direction`` says how
    ``worst_value`` merges.
    """

    condition: str
    audience: Audience
    severity: Severity
    first_at: datetime
    last_at: datetime
    patient_id: int | None = None
    kind: Kind | None = None
    device_id: str | None = None
    gateway_id: str | None = None
    count: int = 1
    worst_value: float | None = None
    direction: Direction | None = None
    thresholds: Mapping[str, Any] | None = None
    late: bool = False

    def __post_init__(self) -> None:
        if not self.condition:
            raise ValueError("condition must not be empty")
        if self.audience is Audience.CLINICAL and self.patient_id is None:
            raise ValueError("a clinical alert concerns a patient")
        if self.patient_id is None and self.device_id is None and self.gateway_id is None:
            raise ValueError("an alert needs a subject: a patient, a device or a gateway")
        if self.first_at.utcoffset() is None or self.last_at.utcoffset() is None:
            raise ValueError("first_at and last_at must be timezone-aware")
        if self.first_at > self.last_at:
            raise ValueError("first_at must not be after last_at")
        if self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")
        if self.worst_value is not None and self.direction is None:
            raise ValueError("a worst value needs a direction to merge by")

    @property
    def key(self) -> AlertKey:
        return (self.condition, self.patient_id, self.device_id, self.gateway_id)


def combine(candidates: Iterable[AlertCandidate]) -> tuple[AlertCandidate, ...]:
    """One candidate per key, merged as the store merges (the same whatever the order)."""
    merged: dict[AlertKey, AlertCandidate] = {}
    for candidate in candidates:
        known = merged.get(candidate.key)
        merged[candidate.key] = candidate if known is None else _merge(known, candidate)
    return tuple(merged[key] for key in sorted(merged, key=_sortable))


def _merge(a: AlertCandidate, b: AlertCandidate) -> AlertCandidate:
    leader = max(a, b, key=_precedence)
    return replace(
        leader,
        first_at=min(a.first_at, b.first_at),
        last_at=max(a.last_at, b.last_at),
        count=a.count + b.count,
        worst_value=worst(a.worst_value, b.worst_value, a.direction or b.direction),
        late=a.late or b.late,
    )


def worst(a: float | None, b: float | None, direction: Direction | None) -> float | None:
    """The worse of two values: the lower for a low condition, the higher for a high one."""
    if a is None or b is None:
        return b if a is None else a
    return min(a, b) if direction is Direction.LOW else max(a, b)


def _precedence(candidate: AlertCandidate) -> tuple[int, datetime, str]:
    # The most severe wins (its thresholds snapshot goes with it), then the latest.
    return (candidate.severity.rank, candidate.last_at, repr(candidate.thresholds))


def _sortable(key: AlertKey) -> tuple[str, int, str, str]:
    condition, patient_id, device_id, gateway_id = key
    return (condition, patient_id or 0, device_id or "", gateway_id or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One stored alert episode (an alerts row)."""

    id: int
    organization_id: int
    audience: Audience
    condition: str
    severity: Severity
    status: AlertStatus
    first_at: datetime
    last_at: datetime
    breach_count: int
    raised_at: datetime
    updated_at: datetime
    patient_id: int | None = None
    kind: Kind | None = None
    device_id: str | None = None
    gateway_id: str | None = None
    worst_value: float | None = None
    thresholds: Mapping[str, Any] | None = None
    late: bool = False
    severity_at: datetime | None = None
    acknowledged_by: int | None = None
    acknowledged_at: datetime | None = None
    acknowledgement_note: str | None = None
    resolved_by: int | None = None
    resolved_at: datetime | None = None
    escalated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Alert:
        """An alerts row as psycopg's dict_row gives it."""
        values = dict(row)
        values["audience"] = Audience(values["audience"])
        values["severity"] = Severity(values["severity"])
        values["status"] = AlertStatus(values["status"])
        values["kind"] = None if values.get("kind") is None else Kind(values["kind"])
        if values.get("thresholds") is not None:
            values["thresholds"] = MappingProxyType(dict(values["thresholds"]))
        names = set(cls.__dataclass_fields__)
        return cls(**{name: value for name, value in values.items() if name in names})
