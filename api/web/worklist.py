"""The triage worklist: patients worst first, filters, live updates, acknowledging.

The page reads through the api's own route functions (triage list, open clinical
alerts), so its access checks and audit records are those of the api. Rows are grouped
by severity, each group headed by its colour's name, so colour never carries severity
alone. The live script listens to ``/web/worklist/stream`` (the api's alert stream,
authenticated by the session cookie) and re-fetches the rows when an event arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError

from api.access import Scope, granted
from api.db import Connection, pooled
from api.deps import ConnectionDep
from api.errors import ApiError, ForbiddenError, InvalidError
from api.principal import Principal
from api.queries.reviews import MAX_UNREVIEWED
from api.routes import alerts as alert_routes
from api.routes import live
from api.routes import patients as patient_routes
from api.routes import reviews as review_routes
from api.routes.auth import MAX_FIELD
from api.schemas.alerts import MAX_NOTE, AcknowledgeBody, ClinicalAlert
from api.schemas.patients import LatestReading
from api.schemas.reviews import GreenReviewRequest
from api.web import cookie
from api.web.cookie import PREFIX, WebSession
from api.web.render import auditor_for, error_page, page
from api.web.signin import WORKLIST_PATH, see_other
from devices.reading import Kind, utc_now
from ingest.alert import AlertStatus

router = APIRouter(include_in_schema=False)


class Group(StrEnum):
    """A worklist group, in triage order: the worst open alert's severity (ingest.threshold
    Severity values), or green for a patient without an open clinical alert."""

    RED = "red"
    YELLOW = "yellow"
    BLUE = "blue"
    GREEN = "green"


# Latest readings in the order clinicians read them (devices.reading.Kind order).
KIND_ORDER = {kind: index for index, kind in enumerate(Kind)}
# Patients on one worklist page (the api's largest triage page).
PAGE = patient_routes.MAX_PAGE
# Open alerts read per page: enough for every patient's open conditions.
OPEN_ALERTS = alert_routes.MAX_PAGE

_TEAMS_SQL = """
SELECT ctp.patient_id, t.id, t.name FROM care_team_patients ctp
JOIN care_teams t ON t.id = ctp.care_team_id
WHERE ctp.patient_id = ANY(%s) ORDER BY t.name
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One patient on the worklist."""

    patient_id: int
    name: str
    group: Group
    # The worst open alert: its condition, value and time are the row's trigger.
    alert: ClinicalAlert | None
    open_alerts: int
    # Spot measurements received since the last review ("acknowledge all green").
    unreviewed: int
    latest: Sequence[LatestReading]
    teams: Sequence[tuple[int, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    team: int | None = None
    group: Group | None = None

    def keeps(self, row: Row) -> bool:
        in_team = self.team is None or any(team == self.team for team, _ in row.teams)
        return in_team and (self.group is None or row.group == self.group)


async def _teams(conn: Connection, patient_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    cur = await conn.execute(_TEAMS_SQL, (patient_ids,))
    found: dict[int, list[tuple[int, str]]] = {}
    for row in await cur.fetchall():
        found.setdefault(row["patient_id"], []).append((row["id"], row["name"]))
    return found


async def rows(request: Request, conn: Connection, web: WebSession) -> list[Row]:
    """Every worklist row of the caller, in triage order (audited like the api reads)."""
    auditor = auditor_for(request, conn, web)
    caller = web.principal
    entries = await patient_routes.triage_list(auditor, caller, limit=PAGE, offset=0)
    open_alerts = await alert_routes.clinical_alert_list(
        auditor, caller, status=AlertStatus.OPEN, limit=OPEN_ALERTS
    )
    worst: dict[int, ClinicalAlert] = {}
    for alert in open_alerts:  # worst first, then oldest (api.queries.alerts order)
        worst.setdefault(alert.patient_id, alert)
    teams = await _teams(conn, [entry.patient_id for entry in entries])
    return [
        Row(
            patient_id=entry.patient_id,
            name=entry.name,
            group=Group(entry.worst_severity.value) if entry.worst_severity else Group.GREEN,
            alert=worst.get(entry.patient_id),
            open_alerts=entry.open_alerts,
            unreviewed=entry.unreviewed,
            latest=sorted(entry.latest, key=lambda reading: KIND_ORDER[reading.kind]),
            teams=teams.get(entry.patient_id, []),
        )
        for entry in entries
    ]


def _filters(team: str | None, severity: str | None) -> Filters:
    return Filters(
        team=int(team) if team and team.isdigit() else None,
        group=Group(severity) if severity in set(Group) else None,
    )


async def _worklist(
    request: Request, conn: Connection, template: str, team: str | None, severity: str | None
) -> Response:
    web = await cookie.session(request, conn)
    if not granted(web.principal, Scope.CARE):
        return error_page(request, web, ForbiddenError("not a care role"))
    every = await rows(request, conn, web)
    chosen = _filters(team, severity)
    shown = [row for row in every if chosen.keeps(row)]
    teams = sorted({team for row in every for team in row.teams}, key=lambda team: team[1])
    return page(
        request,
        template,
        web=web,
        groups=[(group, [row for row in shown if row.group is group]) for group in Group],
        teams=teams,
        filters=chosen,
        severities=list(Group),
        unacknowledged=sum(row.open_alerts for row in shown),
        max_unreviewed=MAX_UNREVIEWED,
        # What "acknowledge all green" may cover: what this list showed, no later arrival.
        drawn_at=utc_now().isoformat(),
        back=f"{WORKLIST_PATH}?{request.url.query}" if request.url.query else WORKLIST_PATH,
    )


@router.get(WORKLIST_PATH)
async def worklist(
    request: Request, conn: ConnectionDep, team: str | None = None, severity: str | None = None
) -> Response:
    return await _worklist(request, conn, "worklist.html", team, severity)


@router.get(f"{WORKLIST_PATH}/rows")
async def worklist_rows(
    request: Request, conn: ConnectionDep, team: str | None = None, severity: str | None = None
) -> Response:
    """The worklist table alone, for the live script to swap in."""
    return await _worklist(request, conn, "worklist_table.html", team, severity)


async def _stream_caller(request: Request) -> Principal:
    async with pooled(request.app.state.pool) as conn:
        web = await cookie.session(request, conn, renew=False)
    if not granted(web.principal, Scope.CARE):
        raise ForbiddenError("not a care role")
    return web.principal


@router.get(f"{WORKLIST_PATH}/stream", response_class=EventSourceResponse)
async def worklist_stream(
    request: Request,
    caller: Annotated[Principal, Depends(_stream_caller)],
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> AsyncIterable[ServerSentEvent]:
    """The api's alert stream for the signed-in page (EventSource sends no bearer token)."""
    async for event in live.alert_stream(request, caller, last_event_id):
        yield event


@router.post(f"{PREFIX}/alerts/{{alert_id}}/{{step}}")
async def alert_step(
    request: Request,
    conn: ConnectionDep,
    alert_id: int,
    step: str,
    csrf: Annotated[str, Form(max_length=MAX_FIELD)],
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
    next: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    """Acknowledge (with an optional note) or resolve a clinical alert, then go back."""
    web = await cookie.session(request, conn)
    try:
        cookie.check_csrf(web, csrf)
        auditor = auditor_for(request, conn, web)
        if step == "acknowledge":
            body = AcknowledgeBody(note=note.strip() or None)
            await alert_routes.clinical_alert_acknowledge(
                request, auditor, web.principal, alert_id, body
            )
        elif step == "resolve":
            await alert_routes.clinical_alert_resolve(request, auditor, web.principal, alert_id)
        else:
            return error_page(request, web, ForbiddenError("no such step"))
    except ApiError as exc:
        return error_page(request, web, exc)
    return see_other(cookie.safe_next(next, WORKLIST_PATH), web)


@router.post(f"{PREFIX}/reviews/green")
async def green_review(
    request: Request,
    conn: ConnectionDep,
    csrf: Annotated[str, Form(max_length=MAX_FIELD)],
    up_to: Annotated[str, Form(max_length=MAX_FIELD)],
    team: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    """Acknowledge all green (of the shown care team), through the api's review, then go back."""
    web = await cookie.session(request, conn)
    try:
        cookie.check_csrf(web, csrf)
        try:
            body = GreenReviewRequest.model_validate({"care_team_id": team or None, "up_to": up_to})
        except ValidationError as exc:
            raise InvalidError(str(exc)) from exc
        await review_routes.green_review(auditor_for(request, conn, web), web.principal, body)
    except ApiError as exc:
        return error_page(request, web, exc)
    return see_other(cookie.safe_next(next, WORKLIST_PATH), web)
