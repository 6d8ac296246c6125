"""Audit trail models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from api.audit import Outcome


class AuditEntryOut(BaseModel):
    """One audit record: when, who (name, role, organization), whom, what, outcome."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    user_id: int | None
    user_display_name: str | None
    role: str | None
    organization_id: int | None
    organization_name: str | None
    patient_id: int | None
    action: str
    resource: str
    outcome: Outcome
