"""``/patients/{patient_id}/...``: thresholds, enrolment, schedules, passive periods,
oximetry nights.

Reading is for the patient's care team; changing thresholds, enrolment and schedules is
for clinicians (the treating doctor sets the limits, ARCHITECTURE.md), passive periods
for clinicians and nurses. Changes go through ingest's monitoring_plan functions on a
blocking connection, with the audit record in the same transaction.
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request

from api.access import Scope, check_patient
from api.audit import Action
from api.db import SyncConnection, in_sync_transaction
from api.deps import AuditorDep, CallerDep
from api.errors import InvalidError
from api.principal import CARE_ROLES, Role
from api.problem import responses
from api.queries import plans
from api.schemas.plans import (
    Enrolment,
    OximetryNight,
    PassivePeriodIn,
    PlanOut,
    ScheduleIn,
    ThresholdOut,
    ThresholdUpdate,
    ThresholdVersionOut,
)
from devices.reading import Kind
from ingest.monitoring_plan import add_passive_period, enrol, set_schedule, set_threshold
from ingest.program import Program
from ingest.schedule import MeasurementSchedule, PassivePeriod
from ingest.threshold import Threshold

router = APIRouter(tags=["plans"])

CLINICIANS = frozenset({Role.CLINICIAN})
_READ = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_WRITE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT)
MAX_NIGHTS = 366


@router.get("/patients/{patient_id}/thresholds", responses=_READ)
async def threshold_list(
    auditor: AuditorDep, caller: CallerDep, patient_id: int
) -> list[ThresholdOut]:
    resource = "patients/{patient_id}/thresholds"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.CARE, action=Action.READ, resource=resource
    )
    found = await plans.thresholds(auditor.conn, patient_id)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


@router.get("/patients/{patient_id}/thresholds/history", responses=_READ)
async def threshold_history(
    auditor: AuditorDep, caller: CallerDep, patient_id: int, kind: Kind | None = None
) -> list[ThresholdVersionOut]:
    """Every version of the patient's thresholds with who set it and from when, newest first."""
    resource = "patients/{patient_id}/thresholds/history"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.CARE, action=Action.READ, resource=resource
    )
    found = await plans.threshold_history(auditor.conn, patient_id, kind=kind)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


@router.put("/patients/{patient_id}/thresholds/{kind}", responses=_WRITE)
async def threshold_update(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    kind: Kind,
    body: ThresholdUpdate,
) -> list[ThresholdOut]:
    """Set one kind's limits from now on (clinicians); the old ones stay in the history."""
    resource = "patients/{patient_id}/thresholds/{kind}"
    await check_patient(
        auditor,
        caller,
        patient_id,
        scope=Scope.CARE,
        action=Action.UPDATE,
        resource=resource,
        only=CLINICIANS,
    )
    try:
        threshold = Threshold(kind=kind, **body.model_dump())
    except ValueError as exc:
        raise InvalidError(str(exc)) from exc

    def change(conn: SyncConnection) -> None:
        set_threshold(conn, patient_id, threshold, by=caller.user_id)
        auditor.record_sync(conn, [patient_id], action=Action.UPDATE, resource=resource)

    await in_sync_transaction(request.app.state.sync_pool, change)
    return await plans.thresholds(auditor.conn, patient_id)


@router.get("/patients/{patient_id}/plan", responses=_READ)
async def plan_detail(auditor: AuditorDep, caller: CallerDep, patient_id: int) -> PlanOut:
    """The patient's program, measurement schedules and passive periods."""
    resource = "patients/{patient_id}/plan"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.CARE, action=Action.READ, resource=resource
    )
    found = await plans.plan(auditor.conn, patient_id)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


@router.put("/patients/{patient_id}/plan", responses=_WRITE)
async def enrolment(
    request: Request, auditor: AuditorDep, caller: CallerDep, patient_id: int, body: Enrolment
) -> PlanOut:
    """Enrol the patient in a program: its default thresholds and schedules are copied."""
    resource = "patients/{patient_id}/plan"
    await check_patient(
        auditor,
        caller,
        patient_id,
        scope=Scope.CARE,
        action=Action.UPDATE,
        resource=resource,
        only=CLINICIANS,
    )
    _check_zone(body.timezone)

    def change(conn: SyncConnection) -> None:
        enrol(conn, patient_id, Program(body.program), by=caller.user_id, timezone=body.timezone)
        auditor.record_sync(conn, [patient_id], action=Action.UPDATE, resource=resource)

    await in_sync_transaction(request.app.state.sync_pool, change)
    return await plans.plan(auditor.conn, patient_id)


@router.put("/patients/{patient_id}/schedules/{kind}", responses=_WRITE)
async def schedule_update(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    kind: Kind,
    body: ScheduleIn,
) -> PlanOut:
    """Set when ``kind`` is due (local times in the plan's zone); missed slots raise blue alerts."""
    resource = "patients/{patient_id}/schedules/{kind}"
    await check_patient(
        auditor,
        caller,
        patient_id,
        scope=Scope.CARE,
        action=Action.UPDATE,
        resource=resource,
        only=CLINICIANS,
    )
    try:
        schedule = MeasurementSchedule(
            kind=kind,
            times=tuple(body.times),
            weekdays=frozenset(body.weekdays),
            grace=timedelta(minutes=body.grace_minutes),
        )
    except ValueError as exc:
        raise InvalidError(str(exc)) from exc

    def change(conn: SyncConnection) -> None:
        set_schedule(conn, patient_id, schedule, by=caller.user_id)
        auditor.record_sync(conn, [patient_id], action=Action.UPDATE, resource=resource)

    await in_sync_transaction(request.app.state.sync_pool, change)
    return await plans.plan(auditor.conn, patient_id)


@router.post(
    "/patients/{patient_id}/passive-periods", status_code=HTTPStatus.CREATED, responses=_WRITE
)
async def passive_period_create(
    request: Request, auditor: AuditorDep, caller: CallerDep, patient_id: int, body: PassivePeriodIn
) -> PlanOut:
    """Silence missed-measurement alerts for a while (admission, holiday)."""
    resource = "patients/{patient_id}/passive-periods"
    await check_patient(
        auditor,
        caller,
        patient_id,
        scope=Scope.CARE,
        action=Action.CREATE,
        resource=resource,
        only=CARE_ROLES,
    )
    try:
        period = PassivePeriod(start=body.start, end=body.end, reason=body.reason)
    except ValueError as exc:
        raise InvalidError(str(exc)) from exc

    def change(conn: SyncConnection) -> None:
        add_passive_period(conn, patient_id, period, by=caller.user_id, note=body.note)
        auditor.record_sync(conn, [patient_id], action=Action.CREATE, resource=resource)

    await in_sync_transaction(request.app.state.sync_pool, change)
    return await plans.plan(auditor.conn, patient_id)


@router.get("/patients/{patient_id}/oximetry-nights", responses=_READ)
async def oximetry_night_list(
    auditor: AuditorDep,
    caller: CallerDep,
    patient_id: int,
    limit: Annotated[int, Query(ge=1, le=MAX_NIGHTS)] = 30,
) -> list[OximetryNight]:
    """Nightly oximetry summaries (ODI, time below 90 % and 88 %, data quality), newest first."""
    resource = "patients/{patient_id}/oximetry-nights"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.CARE, action=Action.READ, resource=resource
    )
    found = await plans.oximetry_nights(auditor.conn, patient_id, limit=limit)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return found


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidError(f"unknown time zone {name!r}") from exc
