"""Patient models: triage rows, detail, delivery identity, registration."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from devices.reading import AbsentReason, Kind, Unit
from ingest.threshold import Severity


class LatestReading(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    value: float | None
    unit: Unit
    absent_reason: AbsentReason | None
    measured_at: datetime


class AlertSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    condition: str
    kind: Kind | None
    severity: Severity
    status: str
    first_at: datetime
    last_at: datetime


class TriageEntry(BaseModel):
    """One patient in the triage list, worst first."""

    model_config = ConfigDict(frozen=True)

    patient_id: int
    name: str
    worst_severity: Severity | None
    oldest_unacknowledged_at: datetime | None
    open_alerts: int
    # Spot measurements received since the patient's last review, counted up to 100
    # (api/queries/reviews.py MAX_UNREVIEWED).
    unreviewed: int
    latest: list[LatestReading]


class Identity(BaseModel):
    """Who and where a patient is (delivery identity; no clinical data)."""

    model_config = ConfigDict(frozen=True)

    patient_id: int
    organization_id: int
    national_id: str | None
    name: str
    address: str | None
    postal_code: str | None
    city: str | None
    phone: str | None


class CareTeamRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    organization_id: int


class AssignedDevice(BaseModel):
    model_config = ConfigDict(frozen=True)

    device_id: str
    model: str
    since: datetime
    until: datetime | None


class PatientDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    identity: Identity
    care_teams: list[CareTeamRef]
    devices: list[AssignedDevice]
    open_alerts: list[AlertSummary]
    latest: list[LatestReading]


class PatientCreate(BaseModel):
    """Registering a patient (organization admins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    national_id: str | None = Field(default=None, min_length=1, max_length=32)
    address: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=16)
    city: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    care_team_ids: list[int] = Field(default=[], max_length=20)
