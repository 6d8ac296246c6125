"""Live alert events over Server-Sent Events, filtered per caller, against real uvicorn."""

from __future__ import annotations

import json
import queue
import threading
from datetime import UTC, datetime
from typing import Any

import httpx2
import psycopg
import pytest

from api.app import create_app
from api.live import AlertFeed
from ingest.alert_event import AlertEventKind, record_event
from tests.api.conftest import bearer, mint, settings_for
from tests.api.server import serve

WAIT_S = 15.0
# ("status", code), ("event", fields) or ("error", exception), as the reader saw them.
Events = queue.Queue[tuple[str, Any]]


def listen(
    base: str, token: str, into: Events, *, last_event_id: int | None = None
) -> threading.Event:
    """Read the stream on a thread, putting each parsed event (and errors) on ``into``."""
    headers = bearer(token)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    stop = threading.Event()

    def run() -> None:
        try:
            with (
                httpx2.Client(timeout=WAIT_S) as client,
                client.stream("GET", f"{base}/alerts/stream", headers=headers) as response,
            ):
                into.put(("status", response.status_code))
                event: dict[str, str] = {}
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if not line:
                        if "data" in event:
                            into.put(("event", event))
                        event = {}
                        continue
                    field, _, value = line.partition(":")
                    event[field] = value.strip()
        except httpx2.HTTPError as exc:
            if not stop.is_set():
                into.put(("error", exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop


def record(url: str, alert_id: int, kind: AlertEventKind) -> int:
    with psycopg.connect(url) as conn:
        event = record_event(conn, alert_id, kind, at=datetime.now(UTC))
        conn.commit()
    assert event is not None
    return event


def next_event(into: Events) -> dict[str, str]:
    while True:
        kind, value = into.get(timeout=WAIT_S)
        if kind == "error":
            raise value
        if kind == "event":
            event: dict[str, str] = value
            return event


@pytest.fixture
def server(fresh_world_db):
    app = create_app(settings_for(fresh_world_db.url))
    with serve(app) as base:
        yield base, app


def wait_for_subscribers(app, count: int) -> None:
    feed: AlertFeed = app.state.alert_feed
    deadline = datetime.now(UTC).timestamp() + WAIT_S
    while feed.subscribers < count:
        assert datetime.now(UTC).timestamp() < deadline, "stream never subscribed"
        threading.Event().wait(0.05)


def test_each_caller_gets_only_the_events_they_may_see(server, fresh_world_db):
    base, app = server
    world = fresh_world_db.world
    nurse: Events = queue.Queue()
    fleet: Events = queue.Queue()
    stops = [
        listen(base, mint(world, "nurse_a"), nurse),
        listen(base, mint(world, "fleet_m1"), fleet),
    ]
    try:
        assert nurse.get(timeout=WAIT_S) == ("status", 200)
        assert fleet.get(timeout=WAIT_S) == ("status", 200)
        wait_for_subscribers(app, 2)
        record(fresh_world_db.url, world.alerts["b"], AlertEventKind.RAISED)  # team B's
        record(fresh_world_db.url, world.alerts["tech_m2"], AlertEventKind.RAISED)  # M2's
        mine = record(fresh_world_db.url, world.alerts["a"], AlertEventKind.ESCALATED)
        technical = record(fresh_world_db.url, world.alerts["tech_m1"], AlertEventKind.RAISED)
        got = next_event(nurse)
        assert (got["event"], got["id"]) == ("escalated", str(mine))
        assert json.loads(got["data"]) == {
            "id": mine,
            "alert_id": world.alerts["a"],
            "event": "escalated",
            "at": json.loads(got["data"])["at"],
            "audience": "clinical",
            "organization_id": world.organizations["m1"],
            "patient_id": world.patients["a"],
            "condition": "spo2_low",
            "severity": "red",
        }
        got = next_event(fleet)
        assert (got["event"], got["id"]) == ("raised", str(technical))
        assert nurse.empty()
        assert fleet.empty()
    finally:
        for stop in stops:
            stop.set()
    with psycopg.connect(fresh_world_db.url) as conn:
        audited = conn.execute(
            "SELECT user_id, patient_id FROM audit_log WHERE resource = 'alerts/stream'"
        ).fetchall()
    assert audited == [(world.users["nurse_a"], world.patients["a"])]


def test_last_event_id_replays_what_was_missed(server, fresh_world_db):
    base, _ = server
    world = fresh_world_db.world
    first = record(fresh_world_db.url, world.alerts["a"], AlertEventKind.RAISED)
    second = record(fresh_world_db.url, world.alerts["a"], AlertEventKind.ACKNOWLEDGED)
    nurse: Events = queue.Queue()
    stop = listen(base, mint(world, "nurse_a"), nurse, last_event_id=first)
    try:
        assert next_event(nurse)["id"] == str(second)
    finally:
        stop.set()


@pytest.mark.parametrize("name", ["patient_a", "auditor_m1", "admin_m1"])
def test_roles_without_alerts_get_no_stream(server, fresh_world_db, name):
    base, _ = server
    response = httpx2.get(
        f"{base}/alerts/stream", headers=bearer(mint(fresh_world_db.world, name)), timeout=WAIT_S
    )
    assert response.status_code == 403


def test_no_token_no_stream(server):
    base, _ = server
    assert httpx2.get(f"{base}/alerts/stream", timeout=WAIT_S).status_code == 401
