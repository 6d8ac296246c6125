"""Alerts on arrival: judge the readings a flush just stored, in the same transaction.

``evaluate_stored`` runs right after ``store_batch`` inside the flush's transaction, so
an alert commits with its readings or not at all, and a batch the broker redelivers
after a crash is judged again (a replay stores nothing new and raises nothing twice:
only newly inserted readings are judged, ``StoreResult.patients``).

Several ingest processes share the stream, so one patient's samples may be stored by two
of them at once. Each takes a transaction-scoped advisory lock per patient before it
reads anything back; under READ COMMITTED every statement after the lock sees what the
other committed, so whichever judges second sees both halves of a desaturation split
across processes, and the sustained rule's counting (ingest/rules/sustained.py) sees
each sample join exactly once.

A failure of the rules must never cost readings: an error other than a transient one
(lost connection, deadlock, serialization failure) is logged and the readings are
stored without their alerts, instead of stalling ingest or dead-lettering good data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from devices.reading import Flag, Kind, Unit, utc_now
from ingest import logfmt
from ingest.alert import TechnicalCondition
from ingest.alert_store import AlertChange, apply_candidates, lock, lock_key
from ingest.alerts import Occurrences, Stream, evaluate, failed_spot_measurements, streams_needed
from ingest.db import Connection
from ingest.monitoring_plan import load_threshold_book
from ingest.plausibility import QuarantineReason
from ingest.rules.observation import UNRELIABLE_FLAGS, Observation, in_kind_unit
from ingest.rules.settings import RuleSettings
from ingest.rules.sustained import Sample
from ingest.store import Arrival, StoreResult

log = logging.getLogger(__name__)

DEFAULT_RULES = RuleSettings()
# SQLSTATE classes worth retrying the whole flush for (PostgreSQL documentation,
# Appendix A): connection exception, transaction rollback (deadlock, serialization),
# insufficient resources, operator intervention, system error.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})

SELECT_SAMPLES = """
SELECT device_id, measured_at, value, unit, flags, received_at
FROM readings
WHERE patient_id = %s AND kind = %s AND continuous AND measured_at BETWEEN %s AND %s
"""
COUNT_QUARANTINED = """
SELECT count(*), min(received_at), max(received_at) FROM quarantined_readings
WHERE device_id = %s AND received_at > %s
"""
COUNT_FAILED = """
SELECT count(DISTINCT measured_at), min(measured_at), max(measured_at) FROM readings
WHERE device_id = %s AND NOT continuous AND value IS NULL AND measured_at > %s
"""


def evaluate_stored(
    conn: Connection,
    arrivals: Sequence[Arrival],
    result: StoreResult,
    *,
    settings: RuleSettings = DEFAULT_RULES,
    now: datetime | None = None,
) -> list[AlertChange]:
    """Judge what ``store_batch`` just stored; apply the alerts (caller commits)."""
    if not result.patients and not any(arrival.quarantined for arrival in arrivals):
        return []  # nothing any rule judges: no savepoint either
    try:
        with conn.transaction():
            return _evaluate(conn, arrivals, result, settings=settings, now=now or utc_now())
    except Exception as exc:
        if conn.broken or _is_transient(exc):
            raise
        # The traceback goes with it: this is a bug to fix, not a state to live with.
        log.error(
            logfmt.line("alerts_skipped", arrivals=len(arrivals), error=str(exc)), exc_info=True
        )
        return []


def _evaluate(
    conn: Connection,
    arrivals: Sequence[Arrival],
    result: StoreResult,
    *,
    settings: RuleSettings,
    now: datetime,
) -> list[AlertChange]:
    # Only readings stored just now for a patient are judged; readings of devices nobody
    # is assigned to (a whole benchmark's, a fleet's spares) need no key built each.
    observations = (
        [
            Observation(
                reading=reading,
                patient_id=result.patients[key],
                gateway_id=arrival.gateway_id,
                received_at=arrival.received_at,
            )
            for arrival in arrivals
            for reading in arrival.readings
            if (key := (reading.device_id, reading.kind, reading.measured_at)) in result.patients
        ]
        if result.patients
        else []
    )
    in_future = [
        Observation(
            reading=q.reading,
            patient_id=None,
            gateway_id=arrival.gateway_id,
            received_at=arrival.received_at,
        )
        for arrival in arrivals
        for q in arrival.quarantined
        if q.reason is QuarantineReason.MEASURED_IN_FUTURE
    ]
    quarantined_devices = (
        {q.reading.device_id for arrival in arrivals for q in arrival.quarantined}
        if result.quarantined
        else set()
    )
    if not observations and not in_future and not quarantined_devices:
        return []
    lock(conn, (lock_key("patient", o.patient_id) for o in observations))
    book = load_threshold_book(
        conn,
        {(o.patient_id, o.reading.kind) for o in observations if o.patient_id is not None},
        until=max((o.reading.measured_at for o in observations), default=now),
    )
    new_keys = {(o.reading.device_id, o.reading.kind, o.reading.measured_at) for o in observations}
    streams = [
        Stream(
            patient_id=patient_id,
            kind=kind,
            samples=_samples(conn, patient_id, kind, start, end, new_keys=new_keys),
        )
        for (patient_id, kind), (start, end) in streams_needed(observations, book, settings).items()
    ]
    since = now - settings.repeated_window
    repeated = [
        *(
            _occurrences(conn, COUNT_QUARANTINED, TechnicalCondition.IMPLAUSIBLE_READINGS, device,
                         since=since, new=1)
            for device in sorted(quarantined_devices)
        ),
        *(
            _occurrences(conn, COUNT_FAILED, TechnicalCondition.FAILED_MEASUREMENTS, device,
                         since=since, new=len(instants))
            for device, instants in sorted(failed_spot_measurements(observations).items())
        ),
    ]  # fmt: skip
    candidates = evaluate(
        observations,
        book=book,
        settings=settings,
        streams=streams,
        measured_in_future=in_future,
        repeated=[found for found in repeated if found is not None],
    )
    return apply_candidates(conn, candidates, now=now)


def _samples(
    conn: Connection,
    patient_id: int,
    kind: Kind,
    start: datetime,
    end: datetime,
    *,
    new_keys: set[tuple[str, Kind, datetime]],
) -> tuple[Sample, ...]:
    rows = conn.execute(SELECT_SAMPLES, (patient_id, kind.value, start, end)).fetchall()
    samples = []
    for device_id, measured_at, value, unit, flags, received_at in rows:
        samples.append(
            Sample(
                measured_at=measured_at,
                value=in_kind_unit(value, Unit(unit), kind),
                usable=value is not None and not frozenset(map(Flag, flags)) & UNRELIABLE_FLAGS,
                received_at=received_at,
                new=(device_id, kind, measured_at) in new_keys,
            )
        )
    return tuple(samples)


def _occurrences(
    conn: Connection,
    query: str,
    condition: TechnicalCondition,
    device_id: str,
    *,
    since: datetime,
    new: int,
) -> Occurrences | None:
    row = conn.execute(query, (device_id, since)).fetchone()
    if row is None or not row[0]:
        return None
    count, first_at, last_at = row
    return Occurrences(
        condition=condition,
        device_id=device_id,
        occurrences=int(count),
        new=new,
        first_at=first_at,
        last_at=last_at,
    )


def _is_transient(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
