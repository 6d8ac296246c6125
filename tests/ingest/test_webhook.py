"""Signed webhooks against a real HTTP server on 127.0.0.1: signing, retry, the delivery log."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devices.reading import Kind
from ingest.alert_store import escalate_due
from ingest.db import in_transaction
from ingest.webhook import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    DeliveryReport,
    WebhookSettings,
    deliver_due,
    post,
    signature,
    verify,
)
from tests.ingest.alerting import T0, flush, home, spot

SECRET = "s3cret-for-tests-only"
FAST = WebhookSettings(first_backoff=timedelta(seconds=10), max_attempts=4, timeout=2.0)


@dataclass
class Receiver:
    """A webhook endpoint: answers with scripted statuses (then 200), records requests."""

    url: str
    statuses: deque[int] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers), body))
            status = state.statuses.popleft() if state.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/telecare"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_signature_is_hmac_sha256_of_the_body():
    # RFC 4231 test case 2.
    assert signature(b"what do ya want for nothing?", "Jefe") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert verify(b"body", SECRET, signature(b"body", SECRET))
    assert not verify(b"body!", SECRET, signature(b"body", SECRET))
    assert not verify(b"body", SECRET, None)


@pytest.mark.parametrize(
    ("start", "attempts", "expected"),
    [
        pytest.param(timedelta(seconds=30), 1, timedelta(seconds=30), id="first"),
        pytest.param(timedelta(seconds=30), 3, timedelta(seconds=120), id="doubling"),
        pytest.param(timedelta(seconds=30), 20, timedelta(hours=1), id="capped"),
    ],
)
def test_backoff(start, attempts, expected):
    assert WebhookSettings(first_backoff=start).backoff(attempts) == expected


def escalated_alert(db, receiver: Receiver, **webhook) -> int:
    """A red alert of a patient whose organization has a webhook, escalated at T0 + 15 min."""
    place = home(db)
    columns = {"events": ["escalated"], **webhook}
    db.execute(
        "INSERT INTO webhooks (organization_id, url, secret, events) VALUES (%s, %s, %s, %s)",
        (place.organization_id, receiver.url, SECRET, columns["events"]),
    )
    db.commit()
    [change] = flush(db, spot(Kind.SYSTOLIC, 200.0), now=T0)
    assert escalate_due(db, now=T0 + timedelta(minutes=15), after=timedelta(minutes=15))
    return change.alert_id


def deliveries(db) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = db.execute(
        "SELECT status, attempts, last_status_code, delivered_at IS NOT NULL "
        "FROM webhook_deliveries ORDER BY id"
    ).fetchall()
    db.rollback()
    return rows


def test_an_escalation_is_delivered_signed_after_retries(db, receiver):
    alert_id = escalated_alert(db, receiver)
    receiver.statuses.extend([500, 503])
    now = T0 + timedelta(minutes=15)
    assert deliver_due(db, now=now, settings=FAST).retrying == 1
    assert deliver_due(db, now=now, settings=FAST).retrying == 0  # not due yet: backoff
    assert deliver_due(db, now=now + timedelta(seconds=10), settings=FAST).retrying == 1
    assert deliveries(db) == [("pending", 2, 503, False)]
    assert deliver_due(db, now=now + timedelta(seconds=30), settings=FAST).delivered == 1
    assert deliveries(db) == [("delivered", 3, 200, True)]

    assert len(receiver.requests) == 3
    bodies = {body for _, _, body in receiver.requests}
    assert len(bodies) == 1  # every retry sends the same bytes
    path, headers, body = receiver.requests[-1]
    assert path == "/hooks/telecare"
    assert verify(body, SECRET, headers[SIGNATURE_HEADER])
    assert headers[EVENT_HEADER] == "escalated"
    assert headers["Content-Type"] == "application/json"
    assert {h[DELIVERY_HEADER] for _, h, _ in receiver.requests} == {headers[DELIVERY_HEADER]}
    payload = json.loads(body)
    assert payload["event"] == "escalated"
    assert payload["alert"]["id"] == alert_id
    assert (payload["alert"]["condition"], payload["alert"]["severity"]) == ("systolic_high", "red")
    assert "worst_value" not in payload["alert"]  # no clinical values leave by webhook


def test_a_refusal_fails_at_once_and_giving_up_is_logged(db, receiver):
    escalated_alert(db, receiver)
    receiver.statuses.append(410)
    report = deliver_due(db, now=T0 + timedelta(minutes=15), settings=FAST)
    assert (report.delivered, report.retrying, report.failed) == (0, 0, 1)
    assert deliveries(db) == [("failed", 1, 410, False)]


def test_retries_stop_after_max_attempts(db, receiver):
    escalated_alert(db, receiver)
    receiver.statuses.extend([500] * 10)
    now = T0 + timedelta(minutes=15)
    for _ in range(FAST.max_attempts):
        deliver_due(db, now=now, settings=FAST)
        now += FAST.max_backoff
    assert deliveries(db) == [("failed", FAST.max_attempts, 500, False)]
    assert len(receiver.requests) == FAST.max_attempts


def test_redirects_are_not_followed(db, receiver):
    escalated_alert(db, receiver)
    receiver.statuses.append(307)
    deliver_due(db, now=T0 + timedelta(minutes=15), settings=FAST)
    assert deliveries(db) == [("failed", 1, 307, False)]
    assert len(receiver.requests) == 1


def test_no_answer_is_retried(db, receiver):
    escalated_alert(db, receiver)
    db.execute("UPDATE webhooks SET url = 'http://127.0.0.1:9/nothing-listens'")
    db.commit()
    deliver_due(db, now=T0 + timedelta(minutes=15), settings=FAST)
    [(status, attempts, code, _)] = deliveries(db)
    assert (status, attempts, code) == ("pending", 1, None)
    error = db.execute("SELECT last_error FROM webhook_deliveries").fetchone()[0]
    assert "URLError" in error or "Error" in error


def test_only_subscribed_events_and_audiences_are_queued(db, receiver):
    escalated_alert(db, receiver)  # subscribed to escalated only: "raised" queued nothing
    assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (1,)
    db.execute("UPDATE webhooks SET events = '{raised}', audiences = '{technical}'")
    db.commit()
    flush(db, spot(Kind.DIASTOLIC, 130.0, at=T0 + timedelta(minutes=1)))  # clinical: not queued
    assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (1,)


def test_post_reports_network_trouble_without_raising():
    answer = post("http://127.0.0.1:9/", b"{}", {}, 1.0)
    assert (answer.status, answer.ok, answer.retryable) == (None, False, True)
    assert answer.error


class Crash(BaseException):
    """The process dies (not an error deliver_due could handle)."""


def test_a_delivery_whose_process_died_mid_post_is_tried_again_after_its_lease(db, receiver):
    escalated_alert(db, receiver)
    now = T0 + timedelta(minutes=15)

    def dying(url, body, headers, timeout):
        assert not in_transaction(db)  # no locks or snapshot held across the network
        raise Crash

    with pytest.raises(Crash):
        deliver_due(db, now=now, settings=FAST, poster=dying)
    assert deliver_due(db, now=now, settings=FAST) == DeliveryReport()  # leased
    assert deliver_due(db, now=now + FAST.lease, settings=FAST).delivered == 1
    assert deliveries(db) == [("delivered", 1, 200, True)]
