"""The ingest loop: MQTT messages in, one transaction per flush, acks only after commit.

    broker --(QoS 1, manual ack)--> Consumer --get--> by topic channel:
        readings -> classify (ingest.pending)   status -> StatusSequence (ingest.gateway_status)
        --> Pending --flush--> [store_batch + statuses + dead letters, one transaction]
        --COMMIT--> app-level Ack per gateway --> PUBACK each message in receive order

A flush happens when the pending readings reach ``batch_size``, the pending messages
reach ``receive_maximum`` (the broker sends no more until some are acked), the oldest
waited ``max_delay``, or nothing arrived for ``IDLE_FLUSH`` (the broker may be holding
messages back until it sees acks: Mosquitto's 3.1.1 window is 20).

One flush commits on a writer thread while the loop receives and decodes on (the
database and the decoding then use both cores). A flush that is due while the writer is
busy waits and keeps growing, up to ``BACKLOG_FLUSHES`` times ``batch_size`` readings
(or until the broker's window is full); then the loop waits for the commit. When the
writer is free, everything waiting goes as the next flush: under load, flushes grow
until committing one takes as long as receiving it. A flush starts only when the
previous one has committed and acked, so each message is acked after the commit that
holds it, in receive order.

Failures: a database error means no ack. The flush is retried with backoff on a fresh
connection for as long as it takes (the broker holds the unacked messages and redelivers
them to a restarted process). Only a data error (SQLSTATE class 22 or 23) is a poison:
the flush is then redone message by message and the refused message dead-lettered.
SIGTERM/SIGINT (``stop``) flush what is pending, ack it and disconnect.

``run_service`` (``telecare ingest``) also runs the watchdog (ingest/watchdog.py) on a
thread beside the loop, so time-based rules (missing measurements, gateway offline ...)
need no other process; it stops with the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from devices.reading import utc_now
from gateway.contract import Channel, ContractError, parse_topic
from ingest import logfmt
from ingest.consumer import Consumer, Message
from ingest.db import Connection, connect
from ingest.errors import IngestError
from ingest.evaluation import evaluate_stored
from ingest.gateway_status import StatusReport, StatusSequence
from ingest.gateway_status_store import store_statuses
from ingest.metrics import Counters, Metrics
from ingest.migrate import load_migrations
from ingest.pending import DeadLetter, Outcome, Pending, app_acks, classify, dead_letter
from ingest.settings import IngestSettings
from ingest.store import Arrival, StoreResult, insert_dead_letter, store_batch
from ingest.watchdog import start_watchdog

log = logging.getLogger(__name__)

# Flush when no message came for this long (seconds): see the module docstring.
IDLE_FLUSH = 0.02
# How long ``get`` waits with nothing pending, so ``stop`` and metrics are looked at.
IDLE_POLL = 0.25
# While a flush commits, the loop receives on until this many flushes' worth of readings
# (batch_size each) wait for the writer; the next flush takes them all.
BACKLOG_FLUSHES = 4
# How long ``get`` waits, with a flush due and the writer still committing, before it
# looks at the writer again (s).
WRITER_POLL = 0.005
# Backoff between commit attempts, doubling from the first bound to the second (s).
RETRY_DELAY = (0.5, 30.0)
# How often the metrics line is logged (s).
METRICS_INTERVAL = 60.0
# PostgreSQL error classes that mean "this data can never be stored" (PostgreSQL
# documentation, Appendix A: 22 data exception, 23 integrity constraint violation).
# Everything else (connection loss, deadlock, missing privilege ...) is retried.
POISON_SQLSTATE_CLASSES = frozenset({"22", "23"})
# How long a stopping service waits for the watchdog's current step (s).
WATCHDOG_STOP_TIMEOUT = 30.0


class SchemaNotReadyError(IngestError):
    """The database lacks the telecare schema: run ``telecare db migrate``."""


class IngestService:
    """Runs the loop on the calling thread until ``stop`` is set."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        consumer: Consumer | None = None,
        connect_database: Callable[[], Connection] | None = None,
        metrics_interval: float = METRICS_INTERVAL,
    ) -> None:
        self._settings = settings
        self._consumer = consumer or Consumer(settings)
        self._connect = connect_database or (lambda: connect(settings.database_url))
        self._connection: Connection | None = None
        self._counters = Counters()
        self._metrics_interval = metrics_interval
        self._statuses = StatusSequence()

    def start(self) -> None:
        """Reach the database and the broker now: a bad URL fails here, not later."""
        self.check_database()
        self._consumer.start()
        settings = self._settings
        logfmt.log(
            log,
            logging.INFO,
            "started",
            broker=settings.broker.url,
            protocol=settings.protocol.value,
            client_id=settings.client_id,
            subscription=settings.subscription,
            batch_size=settings.batch_size,
            max_delay=settings.max_delay,
        )

    def metrics(self) -> Metrics:
        """A snapshot of the counters (safe from any thread)."""
        return self._counters.snapshot()

    def check_database(self) -> None:
        """Connect now and check the schema is migrated (fail fast at start)."""
        conn = self._database()
        latest = max((m.version for m in load_migrations()), default=0)
        row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        applied = 0
        if row is not None and row[0]:
            found = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            applied = found[0] if found is not None and found[0] is not None else 0
        conn.rollback()
        if applied < latest:
            raise SchemaNotReadyError(
                f"database schema is at version {applied:04d}, this ingest needs "
                f"{latest:04d}: run 'telecare db migrate'"
            )

    def run(self, stop: threading.Event) -> None:
        """Receive and flush until ``stop``; the loop receives on while a flush commits."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") as writer:
            committing: Future[bool] | None = None
            in_flight = 0  # messages of the flush committing
            gave_up = False  # a flush failed until stop: nothing after it may be acked
            pending = Pending()
            due = False  # pending is to be flushed as soon as the writer is free
            next_metrics = time.monotonic() + self._metrics_interval
            while not stop.is_set():
                writing = committing is not None and not committing.done()
                wait = WRITER_POLL if due and writing else self._wait(pending)
                message = self._consumer.get(wait)
                now = time.monotonic()
                if message is not None:
                    self._receive(pending, message, now=now)
                due = bool(pending) and (due or message is None or self._full(pending, now=now))
                if due and (
                    committing is None
                    or committing.done()
                    or self._backlog_full(pending, in_flight=in_flight)
                ):
                    # Flushes commit and ack in order: the previous one finishes first.
                    if committing is not None and not committing.result():
                        gave_up = True
                        break
                    committing = writer.submit(self._flush, pending, stop=stop)
                    in_flight, pending, due = len(pending), Pending(), False
                if now >= next_metrics:
                    logfmt.log(log, logging.INFO, "metrics", **self.metrics().as_dict())
                    next_metrics = now + self._metrics_interval
            if committing is not None and not committing.result():
                gave_up = True
            if pending and not gave_up:
                # Stopping: one more try; unacked messages come back from the broker anyway.
                self._flush(pending, stop=None)
        logfmt.log(log, logging.INFO, "stopped", **self.metrics().as_dict())

    def _wait(self, pending: Pending) -> float:
        """How long to wait for the next message before flushing (or looking at stop)."""
        if pending.since is None:
            return IDLE_POLL
        return min(pending.since + self._settings.max_delay - time.monotonic(), IDLE_FLUSH)

    def _full(self, pending: Pending, *, now: float) -> bool:
        settings = self._settings
        return (
            pending.readings >= settings.batch_size
            or len(pending) >= settings.receive_maximum
            or (pending.since is not None and now - pending.since >= settings.max_delay)
        )

    def _backlog_full(self, pending: Pending, *, in_flight: int) -> bool:
        """Whether the loop must wait for the commit before it receives more.

        The bound on what waits for the writer; and with the committing flush's messages
        unacked, the broker sends no more than ``receive_maximum`` in all.
        """
        settings = self._settings
        return (
            pending.readings >= BACKLOG_FLUSHES * settings.batch_size
            or len(pending) + in_flight >= settings.receive_maximum
        )

    def close(self) -> None:
        """Disconnect from the broker (the session stays) and the database."""
        self._consumer.stop()
        self._close_database()

    def _close_database(self) -> None:
        if self._connection is not None:
            with suppress(Exception):
                self._connection.close()
            self._connection = None

    def _receive(self, pending: Pending, message: Message, *, now: float) -> None:
        self._counters.add(received=1, redelivered=int(message.duplicate))
        outcome: Outcome
        try:
            outcome = self._classify(message)
        except Exception as exc:  # a bug must not stop the stream; the bytes are kept
            log.exception("classify failed for a message on %s", message.topic)
            error = f"internal error: {_one_line(exc)}"
            outcome = dead_letter(message, error=error, gateway_id=_gateway(message))
        if isinstance(outcome, DeadLetter):
            logfmt.log(
                log, logging.WARNING, "dead_letter", topic=outcome.topic, error=outcome.error
            )
        pending.add(message, outcome, now=now)

    def _classify(self, message: Message) -> Outcome:
        """What the message becomes, by its topic's channel (readings are the default)."""
        try:
            gateway_id, channel = parse_topic(message.topic)
        except ContractError:
            return classify(message, skew=self._settings.skew_tolerance)  # dead-letters it
        if channel is not Channel.STATUS:
            return classify(message, skew=self._settings.skew_tolerance)
        try:
            return self._statuses.read(message, gateway_id=gateway_id)
        except ContractError as exc:
            return dead_letter(message, error=str(exc), gateway_id=gateway_id)

    def _flush(self, pending: Pending, *, stop: threading.Event | None) -> bool:
        """Commit, publish app acks, PUBACK; False when stopped before a commit succeeded."""
        outcomes = self._commit(pending, stop=stop)
        if outcomes is None:
            return False
        committed_at = utc_now()
        # App acks first, PUBACKs after, on the same connection in that order: a crash in
        # between leaves the messages unacked, so they come back and are acked again. The
        # other order could lose an app ack for good (the gateway would have to resend).
        acks = app_acks(outcomes, committed_at=committed_at)
        for ack in acks:
            self._consumer.publish_ack(ack)
        acked = self._consumer.ack(pending.messages)
        self._counters.add(acked=acked, acks_published=len(acks))
        lag = (committed_at - pending.messages[0].received_at).total_seconds()
        self._counters.set(last_commit_at=committed_at, lag_seconds=lag)
        return True

    def _commit(self, pending: Pending, *, stop: threading.Event | None) -> list[Outcome] | None:
        """The outcomes as committed, after as many attempts as it takes (or None)."""
        delay = RETRY_DELAY[0]
        while True:
            try:
                return self._store(pending.outcomes, pending.messages)
            except Exception as exc:  # every failure is retried; nothing is acked
                self._close_database()
                self._counters.add(database_errors=1)
                logfmt.log(
                    log,
                    logging.ERROR,
                    "commit_failed",
                    messages=len(pending),
                    retry_in=delay if stop is not None else None,
                    error=_one_line(exc),
                )
            if stop is None or stop.wait(delay):
                return None
            delay = min(delay * 2, RETRY_DELAY[1])

    def _store(self, outcomes: Sequence[Outcome], messages: Sequence[Message]) -> list[Outcome]:
        conn = self._database()
        try:
            with conn.transaction():
                result = self._write(conn, outcomes)
        except Exception as exc:
            if not _is_poison(exc) or conn.broken:
                raise
            logfmt.log(log, logging.WARNING, "poison_flush", error=_one_line(exc))
            return self._store_one_by_one(conn, outcomes, messages)
        self._count(result, outcomes)
        return list(outcomes)

    def _store_one_by_one(
        self,
        conn: Connection,
        outcomes: Sequence[Outcome],
        messages: Sequence[Message],
    ) -> list[Outcome]:
        """Isolate what the database refuses; it becomes a dead letter, the rest is stored."""
        final: list[Outcome] = []
        for outcome, message in zip(outcomes, messages, strict=True):
            try:
                with conn.transaction():
                    result = self._write(conn, [outcome])
            except Exception as exc:
                if not _is_poison(exc) or conn.broken:
                    raise
                outcome = dead_letter(
                    message,
                    error=f"database refused: {_one_line(exc)}",
                    gateway_id=_gateway(message),
                )
                with conn.transaction():
                    result = self._write(conn, [outcome])
            self._count(result, [outcome])
            final.append(outcome)
        return final

    def _write(self, conn: Connection, outcomes: Sequence[Outcome]) -> StoreResult:
        arrivals = [outcome for outcome in outcomes if isinstance(outcome, Arrival)]
        result = store_batch(conn, arrivals)
        # Alerts on arrival, same transaction (#5).
        evaluate_stored(conn, arrivals, result, settings=self._settings.alerts.rules)
        statuses = store_statuses(conn, [o for o in outcomes if isinstance(o, StatusReport)])
        if statuses.unregistered:
            gateways = ",".join(sorted(statuses.unregistered))
            logfmt.log(log, logging.WARNING, "status_of_unregistered_gateway", gateways=gateways)
        for outcome in outcomes:
            if isinstance(outcome, DeadLetter):
                insert_dead_letter(
                    conn,
                    topic=outcome.topic,
                    payload=outcome.payload,
                    error=outcome.error,
                    received_at=outcome.received_at,
                    gateway_id=outcome.gateway_id,
                )
        return result

    def _count(self, result: StoreResult, outcomes: Sequence[Outcome]) -> None:
        self._counters.add(
            stored=result.inserted,
            duplicates=result.duplicates,
            conflicts=result.conflicts,
            quarantined=result.quarantined,
            dead_letters=sum(isinstance(outcome, DeadLetter) for outcome in outcomes),
            statuses=sum(isinstance(outcome, StatusReport) for outcome in outcomes),
            batches=sum(isinstance(outcome, Arrival) for outcome in outcomes),
            commits=1,
        )

    def _database(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self._connect()
        return self._connection


def run_service(settings: IngestSettings, *, stop: threading.Event) -> Metrics:
    """Connect to the database and the broker (failing fast), then run the loop and the
    watchdog until ``stop``."""
    service = IngestService(settings)
    watchdog_stop = threading.Event()
    watchdog = None
    try:
        service.start()
        watchdog = start_watchdog(
            settings.database_url, stop=watchdog_stop, settings=settings.alerts
        )
        service.run(stop)
    finally:
        watchdog_stop.set()
        if watchdog is not None:
            watchdog.join(WATCHDOG_STOP_TIMEOUT)
        service.close()
    return service.metrics()


def _is_poison(exc: BaseException) -> bool:
    # psycopg errors carry the server's SQLSTATE; connection failures carry none.
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in POISON_SQLSTATE_CLASSES


def _gateway(message: Message) -> str | None:
    try:
        return parse_topic(message.topic)[0]
    except ContractError:
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
