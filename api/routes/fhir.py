"""``/fhir``: FHIR R4 Patient, Device, Observation search, and Bulk Data ``$export``.

For the caller's patients (care roles: their care teams'; a patient: themselves), the
same scope as ``/patients/{id}/readings``. Every resource about a patient is an
audited read. Errors keep the api's problem shape (not OperationOutcome).
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from api.access import Scope, check_patient, require
from api.audit import Action, Auditor
from api.deps import AuditorDep, CallerDep, client_address, request_id
from api.errors import InvalidError, NotFoundError
from api.fhir import resources, search
from api.fhir.export import EXPORT_TYPES, ExportJobs, JobState
from api.principal import Principal
from api.problem import responses
from api.queries import fhir as queries
from api.queries.patients import identities
from devices.reading import utc_now

router = APIRouter(prefix="/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
Count = Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)]
_ONE = responses(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.get("/metadata", response_class=FhirJSONResponse)
async def capabilities() -> dict[str, Any]:
    """The CapabilityStatement: what this FHIR server offers."""
    search = {
        "Patient": ["_id"],
        "Device": ["patient"],
        "Observation": ["patient", "code", "date"],
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-29",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": name,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": p, "type": "token"} for p in params],
                    }
                    for name, params in search.items()
                ],
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                    }
                ],
            }
        ],
    }


@router.get("/Patient/{patient_id}", response_class=FhirJSONResponse, responses=_ONE)
async def patient_read(auditor: AuditorDep, caller: CallerDep, patient_id: int) -> dict[str, Any]:
    resource = "fhir/Patient/{patient_id}"
    await check_patient(
        auditor, caller, patient_id, scope=Scope.READINGS, action=Action.READ, resource=resource
    )
    [identity] = await identities(auditor.conn, caller, patient_id=patient_id)
    await auditor.record([patient_id], action=Action.READ, resource=resource)
    return resources.patient(identity)


@router.get("/Patient", response_class=FhirJSONResponse, responses=responses(HTTPStatus.FORBIDDEN))
async def patient_search(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    _id: Annotated[int | None, Query(alias="_id", ge=1, le=2**63 - 1)] = None,
    count: Count = DEFAULT_COUNT,
) -> dict[str, Any]:
    require(caller, Scope.READINGS)
    found = await identities(auditor.conn, caller, patient_id=_id, limit=count)
    await auditor.record(
        [i.patient_id for i in found], action=Action.SEARCH, resource="fhir/Patient"
    )
    return resources.searchset([resources.patient(i) for i in found], base=_base(request))


@router.get("/Device/{device_id}", response_class=FhirJSONResponse, responses=_ONE)
async def device_read(auditor: AuditorDep, caller: CallerDep, device_id: str) -> dict[str, Any]:
    require(caller, Scope.READINGS)
    found = await queries.devices(auditor.conn, caller, fhir_id=device_id, limit=1)
    if not found:
        raise NotFoundError("no such device")
    await auditor.record(
        [found[0].patient_id], action=Action.READ, resource="fhir/Device/{device_id}"
    )
    return resources.device(found[0])


@router.get("/Device", response_class=FhirJSONResponse, responses=responses(HTTPStatus.FORBIDDEN))
async def device_search(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    patient: Annotated[str | None, Query(max_length=40)] = None,
    count: Count = DEFAULT_COUNT,
) -> dict[str, Any]:
    require(caller, Scope.READINGS)
    found = await queries.devices(
        auditor.conn, caller, patient_id=search.patient_param(patient), limit=count
    )
    await auditor.record(
        [d.patient_id for d in found if d.patient_id is not None],
        action=Action.SEARCH,
        resource="fhir/Device",
    )
    return resources.searchset([resources.device(d) for d in found], base=_base(request))


@router.get(
    "/Observation", response_class=FhirJSONResponse, responses=responses(HTTPStatus.FORBIDDEN)
)
async def observation_search(
    request: Request,
    auditor: AuditorDep,
    caller: CallerDep,
    patient: Annotated[str | None, Query(max_length=40)] = None,
    code: Annotated[str | None, Query(max_length=200)] = None,
    date_: Annotated[list[str] | None, Query(alias="date", max_length=4)] = None,
    count: Count = DEFAULT_COUNT,
) -> dict[str, Any]:
    """Observations of the caller's patients: ``patient``, ``code`` (LOINC, MDC or NPU,
    ``system|code`` or bare), ``date`` with ge/gt/le/lt/eq prefixes."""
    require(caller, Scope.READINGS)
    since, until = search.date_range(date_ or [])
    rows = await queries.readings(
        auditor.conn,
        caller,
        patient_id=search.patient_param(patient),
        kinds=search.kinds(code),
        since=since,
        until=until,
        limit=count,
    )
    found = resources.observations(rows)
    await auditor.record(
        sorted({r.patient_id for r in rows}), action=Action.SEARCH, resource="fhir/Observation"
    )
    return resources.searchset(found, base=_base(request))


@router.get(
    "/$export",
    status_code=HTTPStatus.ACCEPTED,
    responses={**responses(HTTPStatus.FORBIDDEN), 202: {"description": "Export started"}},
    response_class=Response,
)
async def export_kickoff(
    request: Request,
    caller: CallerDep,
    types: Annotated[str | None, Query(alias="_type", max_length=100)] = None,
    since: Annotated[datetime | None, Query(alias="_since")] = None,
    prefer: Annotated[str | None, Header()] = None,
) -> Response:
    """Start a Bulk Data export of the caller's patients; poll Content-Location."""
    require(caller, Scope.READINGS)
    wanted = (
        tuple(EXPORT_TYPES)
        if types is None
        else tuple(t for t in EXPORT_TYPES if t in types.split(","))
    )
    if not wanted or (types is not None and len(wanted) != len(set(types.split(",")))):
        raise InvalidError(f"_type must name some of {', '.join(EXPORT_TYPES)}")
    if since is not None and since.utcoffset() is None:
        raise InvalidError("_since needs a time zone")
    jobs: ExportJobs = request.app.state.exports

    def auditor_for(conn: Any) -> Auditor:
        return Auditor(
            conn=conn,
            principal=caller,
            client_address=client_address(request),
            request_id=request_id(request),
        )

    job = jobs.start(
        pool=request.app.state.pool,
        principal=caller,
        auditor_for=auditor_for,
        request=str(request.url),
        types=wanted,
        since=since,
        now=utc_now(),
    )
    status = f"{_base(request)}/$export-status/{job.id}"
    return Response(status_code=HTTPStatus.ACCEPTED, headers={"Content-Location": status})


def _job(request: Request, caller: Principal, job_id: str) -> Any:
    jobs: ExportJobs = request.app.state.exports
    job = jobs.get(job_id, owner=caller.user_id)
    if job is None:
        raise NotFoundError("no such export")
    return job


@router.get(
    "/$export-status/{job_id}",
    response_class=JSONResponse,
    responses={**_ONE, 202: {"description": "Still running; see X-Progress"}},
)
async def export_status(request: Request, caller: CallerDep, job_id: str) -> Response:
    """202 while the export runs, then the manifest of its NDJSON files."""
    job = _job(request, caller, job_id)
    if job.state is JobState.RUNNING:
        return Response(
            status_code=HTTPStatus.ACCEPTED,
            headers={"X-Progress": job.progress, "Retry-After": "1"},
        )
    if job.state is JobState.FAILED:
        raise InvalidError(f"the export failed: {job.error}")
    base = _base(request)
    return JSONResponse(
        {
            "transactionTime": job.transaction_time.isoformat().replace("+00:00", "Z"),
            "request": job.request,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": t,
                    "url": f"{base}/$export-file/{job.id}/{t}.ndjson",
                    "count": job.counts.get(t, 0),
                }
                for t in job.types
            ],
            "error": [],
        }
    )


@router.delete(
    "/$export-status/{job_id}",
    status_code=HTTPStatus.ACCEPTED,
    responses=_ONE,
    response_class=Response,
)
async def export_delete(request: Request, caller: CallerDep, job_id: str) -> Response:
    """Cancel an export or delete its files."""
    job = _job(request, caller, job_id)
    await request.app.state.exports.delete(job)
    return Response(status_code=HTTPStatus.ACCEPTED)


@router.get(
    "/$export-file/{job_id}/{name}",
    response_class=FileResponse,
    responses={
        **_ONE,
        200: {"content": {NDJSON: {}}, "description": "NDJSON, one resource a line"},
    },
)
async def export_file(request: Request, caller: CallerDep, job_id: str, name: str) -> FileResponse:
    job = _job(request, caller, job_id)
    resource_type = name.removesuffix(".ndjson")
    if job.state is not JobState.COMPLETE or resource_type not in job.types:
        raise NotFoundError("no such export file")
    return FileResponse(job.file(resource_type), media_type=NDJSON)
