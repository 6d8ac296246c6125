"""Reading models: raw readings and downsampled chart series."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from devices.reading import AbsentReason, Flag, Kind, Unit


class ReadingOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    value: float | None
    unit: Unit
    absent_reason: AbsentReason | None
    measured_at: datetime
    device_id: str
    flags: list[Flag]


class SeriesSource(StrEnum):
    """Where a series was aggregated from."""

    AGGREGATE = "readings_15m"
    ROLLUP = "reading_rollups_15m"
    RAW = "readings"


class SeriesPoint(BaseModel):
    """One bucket: [start, start + bucket) with the values measured in it."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    min: float
    avg: float
    max: float
    count: int


class Series(BaseModel):
    model_config = ConfigDict(frozen=True)

    patient_id: int
    kind: Kind
    unit: Unit
    since: datetime
    until: datetime
    bucket_seconds: int
    source: SeriesSource
    points: list[SeriesPoint]
