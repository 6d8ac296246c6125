"""The watchdog: time-based rules, the alert lifecycle's clocks, and dispatching events.

``tick(conn, now)`` runs every step once, each in its own transaction, and is what tests
call with a controlled clock:

    1. missing measurements   slots that closed with no reading raise blue alerts
    2. gateways and devices   offline, outbox full, battery low, silent, clock off
                              (ingest/rules/technical.py), from what the gateways'
                              statuses keep in their rows (ingest/gateway_status_store.py);
                              alerts whose state has cleared resolve
    3. auto-resolve           a missed measurement that came after all; clock and data
                              alerts after a quiet day; breach alerts acknowledged and
                              back in range long enough (WatchdogSettings)
    4. escalation             red alerts still unacknowledged notify (alert_store)
    5. oximetry nights        summaries of nights that ended (ingest/oximetry_store.py)
    6. sightings              unregistered devices no gateway reported for
                              ``sighting_retention`` are forgotten

``Watchdog.run`` calls ``tick`` every ``interval`` seconds and, every
``dispatch_interval``, relays committed alert events to the in-process ``EventStream``
and delivers due webhooks. Several watchdogs (one per ingest process) may run at once:
each step is idempotent and the alert index, advisory locks, row locks and SKIP LOCKED
keep them from doubling anything. ``start_watchdog`` runs one on a daemon thread;
``telecare ingest`` starts one beside its consumer (ingest/service.py ``run_service``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from devices.reading import Kind, utc_now
from gateway.contract import GatewayFlag
from ingest import logfmt
from ingest.alert import TechnicalCondition
from ingest.alert_event import AlertEvent, EventRelay
from ingest.alert_settings import AlertSettings
from ingest.alert_store import apply_candidates, escalate_due, resolve_all
from ingest.db import Connection, connect
from ingest.event_stream import EventStream
from ingest.monitoring_plan import load_passive_periods, load_schedules
from ingest.oximetry_store import summarize_due_nights
from ingest.rules.missing import missed_slots, missing_candidate
from ingest.rules.technical import (
    DeviceHealth,
    GatewayHealth,
    device_candidates,
    gateway_candidates,
)
from ingest.webhook import Poster, deliver_due, post

log = logging.getLogger(__name__)

STATE_CONDITIONS = [
    TechnicalCondition.GATEWAY_OFFLINE,
    TechnicalCondition.OUTBOX_FULL,
    TechnicalCondition.BATTERY_LOW,
    TechnicalCondition.DEVICE_SILENT,
]
QUIET_CONDITIONS = [
    TechnicalCondition.CLOCK_SKEW,
    TechnicalCondition.IMPLAUSIBLE_READINGS,
    TechnicalCondition.FAILED_MEASUREMENTS,
]

LAST_MISSED = """
SELECT patient_id, kind, max(last_at) FROM alerts
WHERE kind IS NOT NULL AND condition = 'missing_' || kind GROUP BY patient_id, kind
"""
FIRST_READING = """
SELECT measured_at FROM readings
WHERE patient_id = %s AND kind = %s AND value IS NOT NULL AND measured_at BETWEEN %s AND %s
LIMIT 1
"""
GATEWAYS = "SELECT id, state, status_at, outbox_depth, status_flags FROM gateways"
# A device's newest reading, kind by kind, so each is one backward index scan.
DEVICES = """
SELECT d.id, d.battery_percent, d.clock_offset_s, d.reported_at, a.since IS NOT NULL,
       greatest(d.last_seen, a.since, CASE WHEN a.since IS NOT NULL THEN
           (SELECT max(m.last) FROM unnest(reading_kinds()) AS k (kind), LATERAL (
                SELECT max(r.measured_at) AS last FROM readings AS r
                WHERE r.device_id = d.id AND r.kind = k.kind) AS m) END)
FROM devices AS d
LEFT JOIN LATERAL (
    SELECT lower(period) AS since FROM device_assignments
    WHERE device_id = d.id AND period @> %(now)s::timestamptz) AS a ON true
WHERE d.lifecycle_state <> 'retired'
"""
OPEN_STATE_ALERTS = """
SELECT id, condition, patient_id, device_id, gateway_id FROM alerts
WHERE status <> 'resolved' AND condition = ANY (%s)
"""
FULFILLED = """
SELECT a.id FROM alerts AS a
JOIN measurement_schedules AS s ON s.patient_id = a.patient_id AND s.kind = a.kind
WHERE a.status <> 'resolved' AND a.condition = 'missing_' || a.kind
  AND EXISTS (SELECT FROM readings AS r WHERE r.patient_id = a.patient_id AND r.kind = a.kind
              AND r.value IS NOT NULL AND r.measured_at >= a.last_at - s.grace)
"""
QUIET = """
SELECT id FROM alerts WHERE status <> 'resolved' AND condition = ANY (%s) AND last_at <= %s
"""
# Breach and irregular-pulse alerts whose first reading after the last breach is old
# enough: every reading since has been inside the limits (a new breach moves last_at).
BACK_IN_RANGE = """
SELECT a.id FROM alerts AS a
WHERE a.audience = 'clinical' AND a.status <> 'resolved' AND a.kind IS NOT NULL
  AND a.condition IN (a.kind || '_low', a.kind || '_high', 'irregular_pulse')
  AND (a.status = 'acknowledged' OR %(unacknowledged)s)
  AND (SELECT min(r.measured_at) FROM readings AS r
       WHERE r.patient_id = a.patient_id AND r.kind = a.kind AND r.value IS NOT NULL
         AND r.measured_at > a.last_at) <= %(since)s
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickReport:
    """What one tick did: alerts raised or updated, resolved, escalated, nights stored."""

    applied: int = 0
    resolved: int = 0
    escalated: int = 0
    nights: int = 0
    forgotten_sightings: int = 0


def tick(conn: Connection, now: datetime, settings: AlertSettings | None = None) -> TickReport:
    """Run every time-based step once at ``now``."""
    settings = settings or AlertSettings()
    watch = settings.watchdog
    with conn.transaction():
        applied = len(missing_measurements(conn, now, settings))
    with conn.transaction():
        changed, cleared = technical_states(conn, now, settings)
    with conn.transaction():
        resolved = resolve_all(conn, [row[0] for row in conn.execute(FULFILLED)], by=None, at=now)
        quiet = conn.execute(QUIET, (QUIET_CONDITIONS, now - watch.technical_quiet))
        resolved += resolve_all(conn, [row[0] for row in quiet], by=None, at=now)
        back = conn.execute(
            BACK_IN_RANGE,
            {"unacknowledged": watch.resolve_unacknowledged, "since": now - watch.resolve_after},
        )
        resolved += resolve_all(conn, [row[0] for row in back], by=None, at=now)
    escalated = escalate_due(conn, now=now, after=watch.escalate_after)
    with conn.transaction():
        nights = summarize_due_nights(
            conn, now=now, settle=watch.night_settle, lookback=watch.night_lookback
        )
    with conn.transaction():
        forgotten = conn.execute(
            "DELETE FROM device_sightings WHERE reported_at < %s", (now - watch.sighting_retention,)
        ).rowcount
    return TickReport(
        applied=applied + changed,
        resolved=len(resolved) + cleared,
        escalated=len(escalated),
        nights=nights,
        forgotten_sightings=forgotten,
    )


def missing_measurements(conn: Connection, now: datetime, settings: AlertSettings) -> list[int]:
    """Raise blue alerts for slots closed since the last one alerted; the alert ids."""
    plans = load_schedules(conn)
    if not plans:
        return []
    lookback = settings.watchdog.missing_lookback
    passive = load_passive_periods(
        conn, sorted({p.patient_id for p in plans}), ending_after=now - lookback
    )
    last_missed = {
        (patient_id, Kind(kind)): at for patient_id, kind, at in conn.execute(LAST_MISSED)
    }
    candidates = []
    for plan in plans:
        kind = plan.schedule.kind
        last = last_missed.get((plan.patient_id, kind))
        slots = [
            slot
            for slot in plan.schedule.slots_closing(max(plan.active_from, now - lookback), now)
            if last is None or slot.due > last
        ]
        measured = sorted(
            row[0]
            for slot in slots
            if (
                row := conn.execute(
                    FIRST_READING, (plan.patient_id, kind.value, slot.opens, slot.closes)
                ).fetchone()
            )
        )
        missed = missed_slots(slots, measured=measured, passive=passive.get(plan.patient_id, ()))
        candidate = missing_candidate(plan.patient_id, kind, missed)
        if candidate is not None:
            candidates.append(candidate)
    return [change.alert_id for change in apply_candidates(conn, candidates, now=now)]


def technical_states(conn: Connection, now: datetime, settings: AlertSettings) -> tuple[int, int]:
    """Raise or update state alerts for gateways and devices, resolve cleared ones."""
    gateways = [
        GatewayHealth(
            gateway_id=i,
            state=state,
            status_at=at,
            outbox_depth=depth,
            flags=frozenset(GatewayFlag(flag) for flag in flags),
        )
        for i, state, at, depth, flags in conn.execute(GATEWAYS)
    ]
    devices = [
        DeviceHealth(
            device_id=i,
            battery_percent=battery,
            clock_offset_s=offset,
            reported_at=reported,
            in_use=in_use,
            last_heard=heard,
        )
        for i, battery, offset, reported, in_use, heard in conn.execute(DEVICES, {"now": now})
    ]
    candidates = [
        *gateway_candidates(gateways, now=now, settings=settings.rules),
        *device_candidates(devices, now=now, settings=settings.rules),
    ]
    changes = apply_candidates(conn, candidates, now=now)
    holding = {candidate.key for candidate in candidates}
    cleared = [
        alert_id
        for alert_id, *key in conn.execute(OPEN_STATE_ALERTS, (STATE_CONDITIONS,))
        if tuple(key) not in holding
    ]
    return len(changes), len(resolve_all(conn, cleared, by=None, at=now))


class Watchdog:
    """Runs ``tick`` and dispatches events until stopped; survives database outages."""

    def __init__(
        self,
        connect_database: Callable[[], Connection],
        *,
        settings: AlertSettings | None = None,
        stream: EventStream[AlertEvent] | None = None,
        poster: Poster = post,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._connect = connect_database
        self._settings = settings or AlertSettings()
        self.stream: EventStream[AlertEvent] = stream or EventStream()
        self._poster = poster
        self._clock = clock
        self._conn: Connection | None = None
        self._relay: EventRelay | None = None
        self._thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        """Run on a daemon thread until ``stop`` is set (see ``join``)."""
        if self._thread is not None:
            raise RuntimeError("the watchdog is already running")
        self._thread = threading.Thread(
            target=self.run, args=(stop,), name="telecare-watchdog", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread ``start`` began to end; whether it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run(self, stop: threading.Event) -> None:
        watch = self._settings.watchdog
        next_tick = time.monotonic()
        while not stop.is_set():
            try:
                conn = self._database()
                self.dispatch(conn)
                if time.monotonic() >= next_tick:
                    report = tick(conn, self._clock(), self._settings)
                    next_tick = time.monotonic() + watch.interval
                    if report != TickReport():
                        logfmt.log(log, logging.INFO, "watchdog_tick", **_counts(report))
            except Exception as exc:  # an outage or a bug must not end the watchdog
                log.error(logfmt.line("watchdog_failed", error=str(exc)), exc_info=True)
                self.close()
            stop.wait(watch.dispatch_interval)
        self.close()

    def dispatch(self, conn: Connection) -> None:
        """Publish committed events to the stream and deliver due webhooks."""
        if self._relay is None:
            self._relay = EventRelay(conn)
        for event in self._relay.poll(conn):
            self.stream.publish(event)
        deliver_due(conn, now=self._clock(), settings=self._settings.webhooks, poster=self._poster)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._relay = None

    def _database(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn


def _counts(report: TickReport) -> dict[str, int]:
    return {name: getattr(report, name) for name in report.__dataclass_fields__}


def start_watchdog(
    database_url: str,
    *,
    stop: threading.Event,
    settings: AlertSettings | None = None,
    stream: EventStream[AlertEvent] | None = None,
) -> Watchdog:
    """Run a watchdog on a daemon thread until ``stop`` is set (``telecare ingest``)."""
    watchdog = Watchdog(
        lambda: connect(database_url, autocommit=True, application_name="telecare-watchdog"),
        settings=settings,
        stream=stream,
    )
    watchdog.start(stop)
    return watchdog
