"""A patient's page for their care team: alerts, charts, thresholds, schedules, nights.

Each part is read through the api's route functions, so every look is checked and
audited as the api read of the same data is. Charts cover a chosen range ending now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import ConnectionDep
from api.errors import ApiError, InvalidError
from api.routes import alerts as alert_routes
from api.routes import patients as patient_routes
from api.routes import plans as plan_routes
from api.routes import readings as reading_routes
from api.routes.auth import MAX_FIELD
from api.schemas.plans import ScheduleIn, ThresholdOut, ThresholdUpdate
from api.schemas.readings import ReadingOut
from api.web import chart, cookie
from api.web.cookie import PREFIX
from api.web.render import auditor_for, error_page, page
from api.web.signin import see_other
from api.web.text import texts
from devices.reading import KIND_CODES, Flag, Kind, utc_now

router = APIRouter(include_in_schema=False)


class Span(StrEnum):
    """The chart ranges a page offers; the value is the ``range`` query parameter."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


SPANS = {Span.DAY: timedelta(days=1), Span.WEEK: timedelta(days=7), Span.MONTH: timedelta(days=30)}
# Readings drawn at most per page (the api's largest raw page).
MAX_READINGS = reading_routes.MAX_LIMIT
NIGHTS = 14
ALERTS = 50
LIMITS = ("red_low", "yellow_low", "yellow_high", "red_high")
# ISO weekday numbers (1 = Monday), as measurement schedules store them.
WEEKDAYS = tuple(range(1, 8))
EDITABLE_KINDS = (Kind.SYSTOLIC, Kind.DIASTOLIC, Kind.PULSE_RATE, Kind.SPO2)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartSpec:
    """One chart: its title's text key, the kinds drawn, whose bands, the default range."""

    title: str
    kinds: tuple[Kind, ...]
    bands: Kind
    low: float
    high: float


# One chart per kind, each with its own bands (a diastolic value drawn over systolic
# bands would look like a breach). Default value ranges cover what home devices report
# for adults, widened when a reading falls outside.
CHARTS = (
    ChartSpec(title="systolic", kinds=(Kind.SYSTOLIC,), bands=Kind.SYSTOLIC, low=60, high=220),
    ChartSpec(title="diastolic", kinds=(Kind.DIASTOLIC,), bands=Kind.DIASTOLIC, low=30, high=140),
    ChartSpec(title="pulse", kinds=(Kind.PULSE_RATE,), bands=Kind.PULSE_RATE, low=30, high=180),
    ChartSpec(title="spo2", kinds=(Kind.SPO2,), bands=Kind.SPO2, low=70, high=100),
)


# Flags that cast no doubt on a reading, so the chart draws no triangle for them: where
# it came from (a stored record, downloaded later: every oximeter spot-check, a cuff's
# history) or that the device checked it (PLXS Measurement Status bits 7 and 8).
NOT_DOUBTFUL = frozenset({Flag.FROM_STORAGE, Flag.VALIDATED, Flag.FULLY_QUALIFIED})


def charts(
    readings: Sequence[ReadingOut],
    thresholds: Sequence[ThresholdOut],
    *,
    since: datetime,
    until: datetime,
    t: Mapping[str, str],
) -> list[tuple[str, str]]:
    """(title, SVG) of each chart (pure)."""
    limits = {found.kind: found for found in thresholds}
    drawn = []
    for spec in CHARTS:
        lines = tuple(
            chart.Line(
                name=kind.value,
                label=t[kind.value],
                points=tuple(
                    chart.Point(
                        at=r.measured_at,
                        value=r.value,
                        flags=tuple(f.value for f in r.flags if f not in NOT_DOUBTFUL),
                    )
                    for r in readings
                    if r.kind is kind and r.value is not None
                ),
            )
            for kind in spec.kinds
        )
        values = [point.value for line in lines for point in line.points]
        low, high = chart.value_range(spec.low, spec.high, values)
        band = limits.get(spec.bands)
        bands = chart.Bands(**{name: getattr(band, name) for name in LIMITS}) if band else None
        drawn.append(
            (
                t[spec.title],
                chart.draw(
                    chart.Chart(
                        title=t[spec.title],
                        unit=KIND_CODES[spec.kinds[0]].unit.value,
                        since=since,
                        until=until,
                        low=low,
                        high=high,
                        lines=lines,
                        bands=bands or chart.Bands(),
                        flagged_word=t["flagged"],
                    )
                ),
            )
        )
    return drawn


def _span(value: str | None) -> Span:
    try:
        return Span(value or Span.WEEK)
    except ValueError:
        return Span.WEEK


@router.get(f"{PREFIX}/patients/{{patient_id}}")
async def patient_page(
    request: Request,
    conn: ConnectionDep,
    patient_id: int,
    chosen: Annotated[str | None, Query(alias="range")] = None,
) -> Response:
    web = await cookie.session(request, conn)
    auditor = auditor_for(request, conn, web)
    caller = web.principal
    span = _span(chosen)
    until = utc_now()
    since = until - SPANS[span]
    try:
        detail = await patient_routes.patient_detail(auditor, caller, patient_id)
        readings = await reading_routes.reading_list(
            auditor, caller, patient_id, since=since, until=until, limit=MAX_READINGS
        )
        thresholds = await plan_routes.threshold_list(auditor, caller, patient_id)
        plan = await plan_routes.plan_detail(auditor, caller, patient_id)
        nights = await plan_routes.oximetry_night_list(auditor, caller, patient_id, limit=NIGHTS)
        alerts = await alert_routes.clinical_alert_list(
            auditor, caller, patient_id=patient_id, limit=ALERTS
        )
    except ApiError as exc:
        return error_page(request, web, exc)

    t = texts(web.language)
    limits = {found.kind: found for found in thresholds}
    return page(
        request,
        "patient.html",
        web=web,
        detail=detail,
        span=span,
        spans=list(Span),
        charts=charts(readings, thresholds, since=since, until=until, t=t),
        alerts=alerts,
        plan=plan,
        nights=nights,
        editable=caller.role in plan_routes.CLINICIANS,
        editor=[(kind, limits.get(kind)) for kind in EDITABLE_KINDS],
        schedules={schedule.kind: schedule for schedule in plan.schedules},
        editable_kinds=EDITABLE_KINDS,
        weekdays=WEEKDAYS,
        limit_names=LIMITS,
    )


def _limit(value: str) -> float | None:
    text = value.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise InvalidError(f"not a number: {text!r}") from exc


@router.post(f"{PREFIX}/patients/{{patient_id}}/thresholds/{{kind}}")
async def threshold_edit(
    request: Request,
    conn: ConnectionDep,
    patient_id: int,
    kind: Kind,
    csrf: Annotated[str, Form(max_length=MAX_FIELD)],
    red_low: Annotated[str, Form(max_length=32)] = "",
    yellow_low: Annotated[str, Form(max_length=32)] = "",
    yellow_high: Annotated[str, Form(max_length=32)] = "",
    red_high: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Set one kind's limits (clinicians), through the api's threshold update."""
    web = await cookie.session(request, conn)
    try:
        cookie.check_csrf(web, csrf)
        body = ThresholdUpdate(
            red_low=_limit(red_low),
            yellow_low=_limit(yellow_low),
            yellow_high=_limit(yellow_high),
            red_high=_limit(red_high),
        )
        await plan_routes.threshold_update(
            request, auditor_for(request, conn, web), web.principal, patient_id, kind, body
        )
    except ApiError as exc:
        return error_page(request, web, exc)
    return see_other(f"{PREFIX}/patients/{patient_id}", web)


def _times(text: str) -> list[time]:
    try:
        return [time.fromisoformat(part) for part in text.replace(",", " ").split()]
    except ValueError as exc:
        raise InvalidError(f"not a list of times: {text!r}") from exc


@router.post(f"{PREFIX}/patients/{{patient_id}}/schedules/{{kind}}")
async def schedule_edit(
    request: Request,
    conn: ConnectionDep,
    patient_id: int,
    kind: Kind,
    csrf: Annotated[str, Form(max_length=MAX_FIELD)],
    times: Annotated[str, Form(max_length=MAX_FIELD)],
    grace_minutes: Annotated[int, Form(ge=1)],
    weekday: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Set when one kind is due (clinicians), through the api's schedule update."""
    web = await cookie.session(request, conn)
    try:
        cookie.check_csrf(web, csrf)
        try:
            body = ScheduleIn(
                times=_times(times), weekdays=weekday or [], grace_minutes=grace_minutes
            )
        except ValidationError as exc:
            raise InvalidError(str(exc)) from exc
        await plan_routes.schedule_update(
            request, auditor_for(request, conn, web), web.principal, patient_id, kind, body
        )
    except ApiError as exc:
        return error_page(request, web, exc)
    return see_other(f"{PREFIX}/patients/{patient_id}", web)
