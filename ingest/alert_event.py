"""Alert events: every lifecycle step, logged durably and followed in commit order.

``record_event`` writes an alert_events row in the caller's transaction, and with it one
webhook_deliveries row per webhook of the organization that wants the event: the
transactional outbox ingest/webhook.py delivers from. Nothing is sent before the change
commits, and nothing committed is left unsent.

``EventRelay`` follows the log from any process. A reader that simply takes "ids above
the last one seen" can miss rows: ids are drawn at insert, but transactions commit in
another order. Each row therefore carries its transaction id, and the relay takes the
events of transactions older than its snapshot's xmin, which have all ended (committed
rows are visible, the rest never will be), then moves its horizon to that xmin: every
committed event once, in order of transactions. An event waits at most as long as the
oldest transaction open when it committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ingest.alert import Audience
from ingest.db import Connection
from ingest.threshold import Severity


class AlertEventKind(StrEnum):
    """What happened to an alert (alert_events.event, webhooks.events)."""

    RAISED = "raised"
    SEVERITY_RAISED = "severity_raised"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent:
    """One alert_events row: no clinical values, only what routing needs."""

    id: int
    alert_id: int
    event: AlertEventKind
    at: datetime
    organization_id: int
    audience: Audience
    patient_id: int | None
    condition: str
    severity: Severity


# The webhook body names the alert and what happened, never a reading's value: a receiver
# fetches details from the api, with its own authorization and audit trail.
RECORD_EVENT = """
WITH event AS (
    INSERT INTO alert_events
        (alert_id, event, at, organization_id, audience, patient_id, condition, severity)
    SELECT id, %(event)s, %(at)s, organization_id, audience, patient_id, condition, severity
    FROM alerts WHERE id = %(alert_id)s
    RETURNING *
), deliveries AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, body, next_attempt_at)
    SELECT w.id, e.id,
           json_build_object(
               'event', e.event, 'event_id', e.id, 'at', e.at,
               'alert', json_build_object(
                   'id', a.id, 'organization_id', a.organization_id, 'audience', a.audience,
                   'condition', a.condition, 'severity', a.severity, 'status', a.status,
                   'patient_id', a.patient_id, 'kind', a.kind, 'device_id', a.device_id,
                   'gateway_id', a.gateway_id, 'first_at', a.first_at, 'last_at', a.last_at,
                   'breach_count', a.breach_count, 'late', a.late,
                   'escalated_at', a.escalated_at))::text,
           e.at
    FROM event AS e
    JOIN alerts AS a ON a.id = e.alert_id
    JOIN webhooks AS w ON w.organization_id = e.organization_id AND w.disabled_at IS NULL
        AND e.event = ANY (w.events) AND e.audience = ANY (w.audiences)
)
SELECT id FROM event
"""

EVENT_COLUMNS = (
    "id, alert_id, event, at, organization_id, audience, patient_id, condition, severity"
)
SELECT_HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())"
# One statement, so the horizon and the rows come from the same snapshot.
SELECT_NEW = f"""
WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
SELECT horizon.xmin::text, {", ".join(f"e.{c}" for c in EVENT_COLUMNS.split(", "))}
FROM horizon
LEFT JOIN alert_events AS e ON e.tx >= %s::xid8 AND e.tx < horizon.xmin
ORDER BY e.tx, e.id
"""


def record_event(
    conn: Connection, alert_id: int, event: AlertEventKind, *, at: datetime
) -> int | None:
    """Log ``event`` for ``alert_id`` and queue its webhooks; the event's id."""
    row = conn.execute(
        RECORD_EVENT, {"alert_id": alert_id, "event": event.value, "at": at}
    ).fetchone()
    return None if row is None else int(row[0])


def events_for(conn: Connection, alert_id: int) -> list[AlertEvent]:
    """The events of one alert, oldest first."""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM alert_events WHERE alert_id = %s ORDER BY id", (alert_id,)
    ).fetchall()
    return [_event(row) for row in rows]


class EventRelay:
    """Hands out each committed alert event once, from the moment it was created."""

    def __init__(self, conn: Connection) -> None:
        row = conn.execute(SELECT_HORIZON).fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        self._horizon = str(row[0])
        if not conn.autocommit:
            conn.rollback()

    def poll(self, conn: Connection) -> list[AlertEvent]:
        """The events committed since the last poll, in transaction order."""
        rows = conn.execute(SELECT_NEW, (self._horizon,)).fetchall()
        if not conn.autocommit:
            conn.rollback()
        if rows:
            self._horizon = rows[0][0]
        return [_event(row[1:]) for row in rows if row[1] is not None]


def _event(row: tuple[Any, ...]) -> AlertEvent:
    id_, alert_id, event, at, organization_id, audience, patient_id, condition, severity = row
    return AlertEvent(
        id=id_,
        alert_id=alert_id,
        event=AlertEventKind(event),
        at=at,
        organization_id=organization_id,
        audience=Audience(audience),
        patient_id=patient_id,
        condition=condition,
        severity=Severity(severity),
    )
