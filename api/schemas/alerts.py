"""Alert models: clinical (care roles), technical (fleet), a patient's own view, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from devices.reading import Kind
from ingest.alert import AlertStatus
from ingest.threshold import Severity

MAX_NOTE = 2000


class ClinicalAlert(BaseModel):
    """A clinical alert as its patient's care team sees it."""

    model_config = ConfigDict(frozen=True)

    id: int
    patient_id: int
    condition: str
    kind: Kind | None
    severity: Severity
    status: AlertStatus
    first_at: datetime
    last_at: datetime
    breach_count: int
    worst_value: float | None
    thresholds: dict[str, Any] | None
    late: bool
    raised_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    acknowledgement_note: str | None
    resolved_by: int | None
    resolved_at: datetime | None
    escalated_at: datetime | None


class TechnicalAlert(BaseModel):
    """A technical alert as the owning organization's fleet sees it: no clinical values."""

    model_config = ConfigDict(frozen=True)

    id: int
    organization_id: int
    condition: str
    device_id: str | None
    gateway_id: str | None
    patient_id: int | None
    severity: Severity
    status: AlertStatus
    first_at: datetime
    last_at: datetime
    breach_count: int
    raised_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    acknowledgement_note: str | None
    resolved_by: int | None
    resolved_at: datetime | None


class OwnAlert(BaseModel):
    """What a patient sees of their alerts: that they exist and how they are handled."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: Kind | None
    severity: Severity
    status: AlertStatus
    first_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class AlertEvent(BaseModel):
    """One lifecycle step of an alert (alert_events)."""

    model_config = ConfigDict(frozen=True)

    event: str
    at: datetime
    severity: Severity


class AcknowledgeBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    note: str | None = Field(default=None, max_length=MAX_NOTE)
