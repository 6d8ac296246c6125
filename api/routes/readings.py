"""``/patients/{patient_id}/readings``: raw readings, chart series, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.access import Scope, check_patient
from api.audit import Action
from api.deps import AuditorDep, CallerDep, SettingsDep
from api.errors import InvalidError
from api.problem import responses
from api.queries import readings
from api.schemas.readings import ReadingOut, Series
from api.timerange import time_range
from devices.reading import Kind

router = APIRouter(tags=["readings"])

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_ERRORS = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


@router.get("/patients/{patient_id}/readings", responses=_ERRORS)
async def reading_list(
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    kind: Kind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[ReadingOut]:
    """Readings of one patient in [since, until) (default: the last 7 days), newest first."""
    resource = "patients/{patient_id}/readings"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.READINGS, action=Action.READ, resource=resource
    )
    start, end = time_range(since, until)
    found = await readings.readings(
        auditor.conn, patient_id, kind=kind, since=start, until=end, limit=limit
    )
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


@router.get("/patients/{patient_id}/readings/series", responses=_ERRORS)
async def reading_series(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    settings: SettingsDep,
    patient_id: int,
    kind: Kind,
    since: datetime | None = None,
    until: datetime | None = None,
    points: Annotated[int | None, Query(ge=2)] = None,
) -> Series:
    """A chart series: min/avg/max per bucket, at most ``points`` buckets."""
    resource = "patients/{patient_id}/readings/series"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.READINGS, action=Action.READ, resource=resource
    )
    start, end = time_range(since, until)
    most = settings.max_points if points is None else points
    if most > settings.max_points:
        raise InvalidError(f"a series has at most {settings.max_points} points")
    found = await readings.series(
        auditor.conn,
        patient_id,
        kind=kind,
        since=start,
        until=end,
        points=most,
        aggregate=request.app.state.aggregate,
    )
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


@router.get(
    "/patients/{patient_id}/readings.csv",
    responses={
        **_ERRORS,
        200: {"content": {"text/csv": {}}, "description": "CSV, one row per reading"},
    },
    response_class=StreamingResponse,
)
async def reading_csv(
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    kind: Kind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """Every reading in the range as CSV, oldest first (for spreadsheets and research)."""
    resource = "patients/{patient_id}/readings.csv"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.READINGS, action=Action.EXPORT, resource=resource
    )
    start, end = time_range(since, until)
    await auditor.record([patient_id], action=Action.EXPORT, resource=resource)

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(readings.CSV_COLUMNS)
        rows = readings.csv_rows(auditor.conn, patient_id, kind=kind, since=start, until=end)
        async for row in rows:
            writer.writerow(
                [value.isoformat() if isinstance(value, datetime) else value for value in row]
            )
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"patient-{patient_id}-readings.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
