"""Live alert event model (the SSE ``data``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ingest.alert import Audience
from ingest.alert_event import AlertEventKind
from ingest.threshold import Severity


class AlertEventOut(BaseModel):
    """What happened to which alert: no clinical values (fetch the alert for those)."""

    model_config = ConfigDict(frozen=True)

    id: int
    alert_id: int
    event: AlertEventKind
    at: datetime
    audience: Audience
    organization_id: int
    patient_id: int | None
    condition: str
    severity: Severity
