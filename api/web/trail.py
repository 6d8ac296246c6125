"""The pages that show who looked: a patient's own page and the auditors' trail.

A patient sees their recent readings in plain words and charts, and every recorded use
of their data (their right of access); an auditor sees the trail of a patient of their
organization. Both read through the api's route functions, audited as the api is.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ConnectionDep
from api.errors import ApiError, ForbiddenError
from api.principal import Role
from api.routes import audit as audit_routes
from api.routes import readings as reading_routes
from api.schemas.readings import ReadingOut
from api.web import cookie
from api.web.patient import MAX_READINGS, SPANS, Span, charts
from api.web.render import auditor_for, error_page, page
from api.web.signin import AUDIT_PATH, OWN_PATH
from api.web.text import texts
from devices.reading import Kind, utc_now

router = APIRouter(include_in_schema=False)

# Trail entries a page shows, newest first.
AUDIT_ROWS = 100


@router.get(OWN_PATH)
async def own_page(request: Request, conn: ConnectionDep) -> Response:
    """A patient's own readings in plain words and charts, and who looked at them."""
    web = await cookie.session(request, conn)
    caller = web.principal
    if caller.role is not Role.PATIENT or caller.patient_id is None:
        return error_page(request, web, ForbiddenError("not a patient"))
    auditor = auditor_for(request, conn, web)
    until = utc_now()
    since = until - SPANS[Span.MONTH]
    readings = await reading_routes.reading_list(
        auditor, caller, caller.patient_id, since=since, until=until, limit=MAX_READINGS
    )
    trail = await audit_routes.own_audit(auditor, caller, limit=AUDIT_ROWS)

    t = texts(web.language)
    latest: dict[Kind, ReadingOut] = {}
    for reading in readings:  # newest first
        latest.setdefault(reading.kind, reading)
    return page(
        request,
        "own.html",
        web=web,
        latest=[latest[kind] for kind in Kind if kind in latest],
        charts=charts(readings, [], since=since, until=until, t=t),
        trail=trail,
    )


@router.get(AUDIT_PATH)
async def audit_page(
    request: Request, conn: ConnectionDep, patient_id: int | None = None
) -> Response:
    """Who looked at a patient's data (auditors of the patient's organization)."""
    web = await cookie.session(request, conn)
    if web.principal.role is not Role.AUDITOR:
        return error_page(request, web, ForbiddenError("not an auditor"))
    trail = []
    if patient_id is not None:
        try:
            trail = await audit_routes.patient_audit(
                auditor_for(request, conn, web), web.principal, patient_id, limit=AUDIT_ROWS
            )
        except ApiError as exc:
            return error_page(request, web, exc)
    return page(request, "audit.html", web=web, patient_id=patient_id, trail=trail)
