"""The event stream, the relay that feeds it in commit order, and the watchdog running both."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import psycopg

from devices.reading import Kind
from ingest.alert_event import AlertEvent, AlertEventKind, EventRelay, record_event
from ingest.alert_settings import AlertSettings
from ingest.db import connect
from ingest.event_stream import EventStream
from ingest.watchdog import Watchdog
from ingest.webhook import SIGNATURE_HEADER, verify
from tests.ingest.alerting import T0, flush, home, spot
from tests.ingest.test_webhook import SECRET, receiver  # noqa: F401  # the fixture

TIMEOUT = 20.0


def test_every_subscriber_gets_every_event_in_order():
    stream: EventStream[int] = EventStream()
    with stream.subscribe() as first, stream.subscribe() as second:
        assert [stream.publish(n) for n in range(3)] == [2, 2, 2]
        assert first.drain() == [0, 1, 2]
        assert [second.get(timeout=1) for _ in range(3)] == [0, 1, 2]
        assert second.get(timeout=0.01) is None
    assert stream.subscribers == 0
    assert stream.publish(3) == 0


def test_a_subscriber_that_falls_behind_is_cut_off_alone():
    stream: EventStream[int] = EventStream()
    slow = stream.subscribe(maxsize=2)
    fast = stream.subscribe()
    for n in range(3):
        stream.publish(n)
    assert slow.overflowed
    assert slow.closed
    assert slow.get(timeout=0) is None
    assert fast.drain() == [0, 1, 2]
    assert stream.subscribers == 1


def _alert(conn) -> int:
    home(conn)
    [change] = flush(conn, spot(Kind.SYSTOLIC, 200.0))
    return change.alert_id


def test_the_relay_hands_out_committed_events_once_in_commit_order(database_url):
    with psycopg.connect(database_url) as setup:
        alert_id = _alert(setup)
    with (
        connect(database_url, autocommit=True) as reader,
        psycopg.connect(database_url) as first,
        psycopg.connect(database_url) as second,
    ):
        relay = EventRelay(reader)
        assert relay.poll(reader) == []  # the raise happened before the relay started
        # first takes the lower id but commits last; a rolled-back event never shows.
        early = record_event(first, alert_id, AlertEventKind.ACKNOWLEDGED, at=T0)
        late = record_event(second, alert_id, AlertEventKind.ESCALATED, at=T0)
        second.commit()
        assert early is not None
        assert late is not None
        assert early < late
        assert relay.poll(reader) == []  # second's event waits for first's transaction
        first.commit()
        found = relay.poll(reader)
        assert [e.id for e in found] == [early, late]
        assert [e.event for e in found] == [AlertEventKind.ACKNOWLEDGED, AlertEventKind.ESCALATED]
        record_event(second, alert_id, AlertEventKind.RESOLVED, at=T0)
        second.rollback()
        assert relay.poll(reader) == []


def test_the_watchdog_streams_events_and_delivers_webhooks(database_url, receiver):  # noqa: F811
    with psycopg.connect(database_url) as setup:
        place = home(setup)
        setup.execute(
            "INSERT INTO webhooks (organization_id, url, secret) VALUES (%s, %s, %s)",
            (place.organization_id, receiver.url, SECRET),
        )
        setup.commit()
    defaults = AlertSettings()
    settings = replace(
        defaults, watchdog=replace(defaults.watchdog, interval=0.05, dispatch_interval=0.05)
    )
    watchdog = Watchdog(
        lambda: connect(database_url, autocommit=True),
        settings=settings,
        clock=lambda: T0 + timedelta(hours=1),
    )
    stop = threading.Event()
    with watchdog.stream.subscribe() as events:
        thread = threading.Thread(target=watchdog.run, args=(stop,))
        thread.start()
        try:
            _wait(lambda: watchdog._relay is not None, "the relay to start")
            with psycopg.connect(database_url) as conn:
                flush(conn, spot(Kind.SYSTOLIC, 200.0), now=T0)
            seen: list[AlertEvent] = []

            def escalated() -> bool:
                seen.extend(e for e in events.drain() if e.condition == "systolic_high")
                return len(seen) >= 2

            _wait(escalated, "the alert raised and escalated")
            _wait(lambda: len(receiver.requests) == 1, "the webhook")
        finally:
            stop.set()
            thread.join(TIMEOUT)
    # The watchdog's own tick adds technical alerts (devices silent since enrolment) too.
    assert [e.event for e in seen] == [AlertEventKind.RAISED, AlertEventKind.ESCALATED]
    _, headers, body = receiver.requests[0]
    assert verify(body, SECRET, headers[SIGNATURE_HEADER])


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
