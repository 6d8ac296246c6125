"""``/alerts/stream``: the caller's alert events as Server-Sent Events.

Care roles get the clinical events of their care teams' patients, fleet managers the
technical events of their organization, nobody else anything. Each event is checked
against the caller as they are at that moment (a disabled user's stream ends; a nurse
taken off a team stops seeing its patients), and each clinical event delivered is an
audited read of its patient. ``Last-Event-ID`` replays up to ``REPLAY_LIMIT`` missed
events before the live ones. The stream holds no database connection between events.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.access import FLEET_ROLES, Scope, can_see_patient, granted
from api.audit import Action, Auditor
from api.db import Connection, Pool, pooled
from api.deps import authenticate, bearer_token, client_address, request_id
from api.errors import ForbiddenError
from api.live import AlertFeed
from api.principal import Principal
from api.problem import responses
from api.queries.users import load_principal
from api.schemas.live import AlertEventOut
from ingest.alert import Audience
from ingest.alert_event import EVENT_COLUMNS, AlertEvent, AlertEventKind
from ingest.threshold import Severity

router = APIRouter(tags=["alerts"])

RESOURCE = "alerts/stream"
# Missed events replayed on reconnection at most; older ones are in /alerts.
REPLAY_LIMIT = 1000
# Tells the browser to reconnect after 3 s when the stream drops.
RETRY_MS = 3000


async def stream_caller(
    request: Request, token: Annotated[str | None, Depends(bearer_token)]
) -> Principal:
    """Authenticate before the stream starts, on a connection given back at once."""
    async with pooled(request.app.state.pool) as conn:
        caller = await authenticate(request, conn, token)
    if not (granted(caller, Scope.CARE) or caller.role in FLEET_ROLES):
        raise ForbiddenError(f"a {caller.role.value} has no alert stream")
    return caller


@router.get(
    "/alerts/stream",
    response_class=EventSourceResponse,
    responses=responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN),
)
async def alert_stream(
    request: Request,
    caller: Annotated[Principal, Depends(stream_caller)],
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Alert events (raised, severity raised, escalated, acknowledged, resolved) as they happen."""
    pool: Pool = request.app.state.pool
    feed: AlertFeed = request.app.state.alert_feed
    async with feed.subscribe() as queue:
        yield ServerSentEvent(comment="telecare alert stream", retry=RETRY_MS)
        try:
            if last_event_id is not None:
                for missed in await _missed(pool, last_event_id):
                    if (sent := await _deliver(request, pool, caller, missed)) is not None:
                        yield sent
            while (event := await queue.get()) is not None:
                if (sent := await _deliver(request, pool, caller, event)) is not None:
                    yield sent
        except _CallerGone:
            return
        # None: cut off for lagging; the client reconnects with Last-Event-ID.


async def _missed(pool: Pool, after: int) -> list[AlertEvent]:
    async with pooled(pool) as conn:
        cur = await conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM alert_events WHERE id > %s ORDER BY id LIMIT %s",
            (after, REPLAY_LIMIT),
        )
        rows = await cur.fetchall()
    return [
        AlertEvent(
            **{
                **row,
                "event": AlertEventKind(row["event"]),
                "audience": Audience(row["audience"]),
                "severity": Severity(row["severity"]),
            }
        )
        for row in rows
    ]


class _CallerGone(Exception):
    """The caller was disabled or changed role while streaming."""


async def _deliver(
    request: Request, pool: Pool, caller: Principal, event: AlertEvent
) -> ServerSentEvent | None:
    """The event for ``caller``, or None if it is not theirs to see."""
    async with pooled(pool) as conn:
        now = await load_principal(conn, caller.user_id)
        if now is None or now.role is not caller.role:
            raise _CallerGone
        if not await _visible(conn, now, event):
            return None
        if event.patient_id is not None:
            auditor = Auditor(
                conn=conn,
                principal=now,
                client_address=client_address(request),
                request_id=request_id(request),
            )
            await auditor.record([event.patient_id], action=Action.READ, resource=RESOURCE)
    data = AlertEventOut(
        id=event.id,
        alert_id=event.alert_id,
        event=event.event,
        at=event.at,
        audience=event.audience,
        organization_id=event.organization_id,
        patient_id=event.patient_id,
        condition=event.condition,
        severity=event.severity,
    )
    return ServerSentEvent(data=data, event=event.event.value, id=str(event.id))


async def _visible(conn: Connection, caller: Principal, event: AlertEvent) -> bool:
    if event.audience is Audience.TECHNICAL:
        return caller.role in FLEET_ROLES and event.organization_id == caller.organization_id
    return (
        event.patient_id is not None
        and granted(caller, Scope.CARE)
        and await can_see_patient(conn, caller, event.patient_id, Scope.CARE)
    )
