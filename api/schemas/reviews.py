"""Review models: "acknowledge all green" and what a review covered."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Largest PostgreSQL bigint: an id beyond it names nothing.
MAX_ID = 2**63 - 1


class GreenReviewRequest(BaseModel):
    """Which green patients to mark reviewed: those of one care team, or all the caller's,
    counting measurements received up to ``up_to`` (the moment the caller's list was drawn,
    so nothing that arrived after it is marked seen; default: now)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    care_team_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    up_to: AwareDatetime | None = None


class Review(BaseModel):
    """One patient's review: their spot measurements received up to ``reviewed_up_to``
    have been seen by ``reviewed_by``."""

    model_config = ConfigDict(frozen=True)

    id: int
    patient_id: int
    reviewed_up_to: datetime
    reviewed_by: int
    reviewed_at: datetime
    measurements: int
