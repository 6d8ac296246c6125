"""Alerts in the database: one open alert per condition and subject, and its lifecycle.

    candidate --apply--> open --acknowledge--> acknowledged --resolve--> resolved
                          ^  \\____________________________________/^
                          |      (manually, or by the watchdog)
                          +-- a new breach after resolve raises a new alert

``apply_candidates`` merges candidates into the open alert of their key with one
``INSERT ... ON CONFLICT`` on 0005's alerts_one_open index: counts add up, first/last
times widen, the worst value is kept, a late reading marks the alert late, and severity
only rises (yellow to red in place, which also reopens an acknowledged alert and restarts
the escalation clock), never falls. The index makes two ingest processes raising the
same alert at once collide into one row; a transaction-scoped advisory lock per key,
taken in key order, serializes them so each knows whether it raised the alert or raised
its severity, and records that event (ingest/alert_event.py) exactly once.

Errors (the api maps them to HTTP):

    IngestError
     └── AlertError
          ├── AlertNotFoundError   no alert with that id
          └── AlertStateError      the step does not apply (acknowledging a resolved alert)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devices.reading import utc_now
from ingest.alert import Alert, AlertCandidate, AlertKey, AlertStatus, combine
from ingest.alert_event import AlertEventKind, record_event
from ingest.db import Connection
from ingest.errors import IngestError
from ingest.threshold import Severity


class AlertError(IngestError):
    """An alert lifecycle step failed."""


class AlertNotFoundError(AlertError):
    pass


class AlertStateError(AlertError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChange:
    """What applying one merged candidate did; ``event`` None: an update, nothing new."""

    alert_id: int
    key: AlertKey
    severity: Severity
    event: AlertEventKind | None


_RISES = "alert_severity_rank(excluded.severity) > alert_severity_rank(a.severity)"
UPSERT = f"""
WITH subject AS (
    SELECT coalesce(
        (SELECT organization_id FROM patients WHERE id = %(patient_id)s),
        (SELECT organization_id FROM devices WHERE id = %(device_id)s),
        (SELECT organization_id FROM gateways WHERE id = %(gateway_id)s)) AS organization_id
), existing AS (
    SELECT id, severity FROM alerts
    WHERE condition = %(condition)s AND status <> 'resolved'
      AND patient_id IS NOT DISTINCT FROM %(patient_id)s
      AND device_id IS NOT DISTINCT FROM %(device_id)s
      AND gateway_id IS NOT DISTINCT FROM %(gateway_id)s
), upserted AS (
    INSERT INTO alerts AS a (organization_id, audience, condition, patient_id, kind, device_id,
        gateway_id, severity, first_at, last_at, breach_count, worst_value, thresholds, late,
        severity_at)
    SELECT organization_id, %(audience)s, %(condition)s, %(patient_id)s, %(kind)s,
        %(device_id)s, %(gateway_id)s, %(severity)s, %(first_at)s, %(last_at)s,
        greatest(%(count)s, 1), %(worst_value)s, %(thresholds)s::jsonb, %(late)s, %(now)s
    FROM subject WHERE organization_id IS NOT NULL
    ON CONFLICT (condition, patient_id, device_id, gateway_id) WHERE status <> 'resolved'
    DO UPDATE SET
        severity = CASE WHEN {_RISES} THEN excluded.severity ELSE a.severity END,
        status = CASE WHEN {_RISES} THEN 'open' ELSE a.status END,
        severity_at = CASE WHEN {_RISES} THEN excluded.severity_at ELSE a.severity_at END,
        thresholds = CASE WHEN {_RISES} THEN excluded.thresholds
                          ELSE coalesce(a.thresholds, excluded.thresholds) END,
        first_at = least(a.first_at, excluded.first_at),
        last_at = greatest(a.last_at, excluded.last_at),
        breach_count = a.breach_count + %(count)s,
        worst_value = CASE %(direction)s::text
            WHEN 'low' THEN least(a.worst_value, excluded.worst_value)
            WHEN 'high' THEN greatest(a.worst_value, excluded.worst_value)
            ELSE coalesce(excluded.worst_value, a.worst_value) END,
        late = a.late OR excluded.late,
        kind = coalesce(a.kind, excluded.kind),
        updated_at = now()
    RETURNING a.id, a.severity, (a.xmax = 0) AS inserted
)
SELECT u.id, u.severity, u.inserted, e.severity
FROM upserted AS u LEFT JOIN existing AS e USING (id)
"""
ACKNOWLEDGE = """
UPDATE alerts SET status = 'acknowledged', acknowledged_by = %s, acknowledged_at = %s,
    acknowledgement_note = %s, updated_at = now()
WHERE id = %s AND status = 'open'
RETURNING id
"""
RESOLVE = """
UPDATE alerts SET status = 'resolved', resolved_by = %s, resolved_at = %s, updated_at = now()
WHERE id = ANY (%s) AND status <> 'resolved'
RETURNING id
"""
ESCALATE = """
UPDATE alerts SET escalated_at = %(now)s, updated_at = now()
WHERE status = 'open' AND severity = 'red' AND escalated_at IS NULL
  AND severity_at <= %(now)s - %(after)s
RETURNING id
"""


def lock_key(*parts: object) -> int:
    """A signed 64-bit advisory-lock key for ``parts`` (collisions only over-serialize)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock(conn: Connection, keys: Iterable[int]) -> None:
    """Take transaction-scoped advisory locks on ``keys``, in key order (no deadlocks)."""
    ordered = sorted(set(keys))
    if ordered:
        conn.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) s",
            (ordered,),
        )


def apply_candidates(
    conn: Connection, candidates: Iterable[AlertCandidate], *, now: datetime | None = None
) -> list[AlertChange]:
    """Merge candidates into open alerts (or raise new ones), recording their events."""
    merged = combine(candidates)
    if not merged:
        return []
    at = now or utc_now()
    changes = []
    with conn.transaction():
        lock(conn, (lock_key("alert", *c.key) for c in merged))
        for candidate in merged:
            row = conn.execute(UPSERT, _params(candidate, at)).fetchone()
            if row is None:  # the subject is not registered: no organization to tell
                continue
            alert_id, severity, inserted, before = row
            event = None
            if inserted:
                event = AlertEventKind.RAISED
            elif before is not None and Severity(severity).rank > Severity(before).rank:
                event = AlertEventKind.SEVERITY_RAISED
            if event is not None:
                record_event(conn, alert_id, event, at=at)
            changes.append(
                AlertChange(
                    alert_id=alert_id, key=candidate.key, severity=Severity(severity), event=event
                )
            )
    return changes


def _params(candidate: AlertCandidate, now: datetime) -> dict[str, Any]:
    return {
        "audience": candidate.audience.value,
        "condition": candidate.condition,
        "patient_id": candidate.patient_id,
        "kind": None if candidate.kind is None else candidate.kind.value,
        "device_id": candidate.device_id,
        "gateway_id": candidate.gateway_id,
        "severity": candidate.severity.value,
        "first_at": candidate.first_at,
        "last_at": candidate.last_at,
        "count": candidate.count,
        "worst_value": candidate.worst_value,
        "direction": None if candidate.direction is None else candidate.direction.value,
        "thresholds": None
        if candidate.thresholds is None
        else json.dumps(dict(candidate.thresholds)),
        "late": candidate.late,
        "now": now,
    }


def acknowledge(
    conn: Connection,
    alert_id: int,
    *,
    by: int,
    note: str | None = None,
    at: datetime | None = None,
) -> Alert:
    """Acknowledge an open alert (who, when, an optional note)."""
    when = at or utc_now()
    with conn.transaction():
        if conn.execute(ACKNOWLEDGE, (by, when, note, alert_id)).fetchone() is None:
            raise _why_not(conn, alert_id, "acknowledge", "it is not open")
        record_event(conn, alert_id, AlertEventKind.ACKNOWLEDGED, at=when)
        return get_alert(conn, alert_id)


def resolve(
    conn: Connection, alert_id: int, *, by: int | None, at: datetime | None = None
) -> Alert:
    """Resolve an alert by hand (``by`` a user) or automatically (``by`` None)."""
    with conn.transaction():
        if not resolve_all(conn, [alert_id], by=by, at=at):
            raise _why_not(conn, alert_id, "resolve", "it is resolved already")
        return get_alert(conn, alert_id)


def resolve_all(
    conn: Connection, alert_ids: Sequence[int], *, by: int | None, at: datetime | None = None
) -> list[int]:
    """Resolve those of ``alert_ids`` not resolved yet; the ids resolved now."""
    if not alert_ids:
        return []
    when = at or utc_now()
    with conn.transaction():
        done = [row[0] for row in conn.execute(RESOLVE, (by, when, list(alert_ids))).fetchall()]
        for alert_id in done:
            record_event(conn, alert_id, AlertEventKind.RESOLVED, at=when)
    return done


def escalate_due(conn: Connection, *, now: datetime, after: timedelta) -> list[int]:
    """Escalate red alerts still open ``after`` they turned red; the ids escalated now."""
    with conn.transaction():
        done = [row[0] for row in conn.execute(ESCALATE, {"now": now, "after": after})]
        for alert_id in done:
            record_event(conn, alert_id, AlertEventKind.ESCALATED, at=now)
    return done


def get_alert(conn: Connection, alert_id: int) -> Alert:
    found = _select_alerts(conn, "SELECT * FROM alerts WHERE id = %s", (alert_id,))
    if not found:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return found[0]


def find_alerts(
    conn: Connection,
    *,
    patient_id: int | None = None,
    condition: str | None = None,
    status: AlertStatus | None = None,
) -> list[Alert]:
    """Alerts matching every filter given, oldest first."""
    return _select_alerts(
        conn,
        "SELECT * FROM alerts WHERE (%(patient)s::bigint IS NULL OR patient_id = %(patient)s)"
        " AND (%(condition)s::text IS NULL OR condition = %(condition)s)"
        " AND (%(status)s::text IS NULL OR status = %(status)s) ORDER BY id",
        {
            "patient": patient_id,
            "condition": condition,
            "status": None if status is None else status.value,
        },
    )


def _select_alerts(conn: Connection, query: str, params: Any) -> list[Alert]:
    with conn.cursor() as cur:
        rows = cur.execute(query, params).fetchall()
        names = [column.name for column in cur.description or ()]
    return [Alert.from_row(dict(zip(names, row, strict=True))) for row in rows]


def _why_not(conn: Connection, alert_id: int, step: str, reason: str) -> AlertError:
    found = conn.execute("SELECT status FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    if found is None:
        return AlertNotFoundError(f"no alert {alert_id}")
    return AlertStateError(f"cannot {step} alert {alert_id}: {reason} (status {found[0]})")
