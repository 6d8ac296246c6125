"""Monitoring plan models: thresholds, enrolment, schedules, passive periods."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from devices.reading import Kind
from ingest.program import Program
from ingest.schedule import MAX_GRACE, PassiveReason

LocalTime = Annotated[str, Field(pattern=r"^\d{2}:\d{2}:\d{2}(\.\d+)?$")]


class ThresholdOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    red_low: float | None
    yellow_low: float | None
    yellow_high: float | None
    red_high: float | None
    program: str | None
    updated_by: int | None
    updated_at: datetime


class ThresholdVersionOut(BaseModel):
    """One version of a threshold, in force from ``valid_from`` until the next one."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    red_low: float | None
    yellow_low: float | None
    yellow_high: float | None
    red_high: float | None
    program: str | None
    changed_by: int | None
    valid_from: datetime


class ThresholdUpdate(BaseModel):
    """New limits for one kind: red low < yellow low < yellow high < red high, any absent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    red_low: float | None = Field(default=None, allow_inf_nan=False)
    yellow_low: float | None = Field(default=None, allow_inf_nan=False)
    yellow_high: float | None = Field(default=None, allow_inf_nan=False)
    red_high: float | None = Field(default=None, allow_inf_nan=False)


class Enrolment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    program: Program
    timezone: str = Field(default="Europe/Copenhagen", min_length=1, max_length=64)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    times: list[time] = Field(min_length=1, max_length=24)
    weekdays: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)
    grace_minutes: int = Field(default=120, ge=1, le=int(MAX_GRACE.total_seconds() // 60))


class ScheduleOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    # Local wall-clock times in the plan's zone: no offset, so not JSON Schema's "time".
    times: list[LocalTime]
    weekdays: list[int]
    grace_minutes: int
    active_from: datetime

    @field_validator("times", mode="before")
    @classmethod
    def _local(cls, value: list[time | str]) -> list[str]:
        return [t.isoformat() if isinstance(t, time) else t for t in value]


class PassivePeriodIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime | None = None
    reason: PassiveReason
    note: str | None = Field(default=None, max_length=2000)


class PassivePeriodOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    start: datetime
    end: datetime | None
    reason: PassiveReason
    note: str | None
    created_by: int | None


class PlanOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    program: Program | None
    timezone: str | None
    enrolled_by: int | None
    enrolled_at: datetime | None
    schedules: list[ScheduleOut]
    passive_periods: list[PassivePeriodOut]


class OximetryNight(BaseModel):
    """One night of continuous oximetry (ingest/oximetry.py defines each figure)."""

    model_config = ConfigDict(frozen=True)

    night: date
    starts_at: datetime
    ends_at: datetime
    recording_seconds: float
    valid_seconds: float
    samples: int
    flagged_share: float
    spo2_mean: float | None
    spo2_min: float | None
    t90_seconds: float
    t88_seconds: float
    odi3: float | None
    odi4: float | None
    pulse_mean: float | None
    pulse_min: float | None
    pulse_max: float | None
