"""Signed webhooks: alert events POSTed to an organization's endpoints, retried, logged.

Deliveries are queued with their event, in the same transaction (ingest/alert_event.py);
``deliver_due`` works through the due ones: each is claimed with ``FOR UPDATE SKIP
LOCKED`` and leased (its next attempt moved past the POST's timeout) in a short
transaction, POSTed with no transaction open (a slow receiver holds no locks and no
snapshot back), and its row updated with the attempt's outcome: the delivery log.
Several processes may deliver at once; a process that dies mid-POST leaves the lease to
run out, and the delivery is tried again (at least once: receivers deduplicate).

The request, after GitHub's webhooks (docs.github.com, "Validating webhook deliveries"):

    POST <url>                       body: the JSON fixed when the event was recorded
    Content-Type: application/json
    X-Telecare-Event: escalated
    X-Telecare-Delivery: <delivery id>   the same on every retry: receivers deduplicate
    X-Telecare-Signature-256: sha256=<hex HMAC-SHA256 of the body with the secret>

Outcome: 2xx delivered; 408, 425, 429, 5xx or no answer are retried after a doubling
backoff (``WebhookSettings``) up to ``max_attempts``; any other status fails at once
(the endpoint refused it; retrying would not help). Redirects are not followed: a
signed body is for the configured URL only. HTTP is the standard library's.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest import logfmt
from ingest.db import Connection

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Telecare-Signature-256"
EVENT_HEADER = "X-Telecare-Event"
DELIVERY_HEADER = "X-Telecare-Delivery"
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "telecare-webhook/1"
# Statuses worth another try (RFC 9110 15.5.9 Request Timeout, RFC 8470 Too Early,
# RFC 6585 Too Many Requests) besides every 5xx.
RETRY_STATUSES = frozenset({408, 425, 429})
# Keep an error message short in the log row.
MAX_ERROR_LENGTH = 500

CLAIM = """
SELECT d.id, d.body, d.attempts, w.url, w.secret, e.event
FROM webhook_deliveries AS d
JOIN webhooks AS w ON w.id = d.webhook_id
JOIN alert_events AS e ON e.id = d.event_id
WHERE d.status = 'pending' AND d.next_attempt_at <= %s
ORDER BY d.next_attempt_at, d.id
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
"""
LEASE = "UPDATE webhook_deliveries SET next_attempt_at = %s WHERE id = %s"
RECORD_ATTEMPT = """
UPDATE webhook_deliveries SET
    attempts = attempts + 1, last_attempt_at = %(now)s, last_status_code = %(status)s,
    last_error = %(error)s, status = %(outcome)s, next_attempt_at = %(next)s,
    delivered_at = CASE WHEN %(outcome)s = 'delivered' THEN %(now)s END
WHERE id = %(id)s
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    # Seconds one POST may take: a slow receiver must not hold up the watchdog.
    timeout: float = 5.0
    # 8 attempts, the pauses doubling from 30 s (capped at an hour): about an hour in all.
    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    # Deliveries per ``deliver_due`` call.
    batch: int = 50

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_attempts < 1 or self.batch < 1:
            raise ValueError("timeout must be positive, max_attempts and batch at least 1")
        if not timedelta(0) < self.first_backoff <= self.max_backoff:
            raise ValueError("backoff must be positive, the first not above the maximum")

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is left alone: twice the POST's timeout."""
        return timedelta(seconds=2 * self.timeout)

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        doubled: timedelta = self.first_backoff * (2 ** max(attempts - 1, 0))
        return min(doubled, self.max_backoff)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What one POST got: a status (None: no answer at all) or an error."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in RETRY_STATUSES


Poster = Callable[[str, bytes, Mapping[str, str], float], Answer]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def signature(body: bytes, secret: str) -> str:
    """The signature header value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` (for receivers; constant time)."""
    return header is not None and hmac.compare_digest(signature(body, secret), header)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST ``body`` to ``url``; never raises for HTTP or network trouble."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(status=response.status)
    except urllib.error.HTTPError as exc:
        return Answer(status=exc.code, error=f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Answer(status=None, error=f"{type(exc).__name__}: {exc}")


def deliver_due(
    conn: Connection,
    *,
    now: datetime,
    settings: WebhookSettings | None = None,
    poster: Poster = post,
) -> DeliveryReport:
    """Attempt up to ``settings.batch`` due deliveries, one transaction each."""
    settings = settings or WebhookSettings()
    delivered = retrying = failed = 0
    for _ in range(settings.batch):
        with conn.transaction():
            row = conn.execute(CLAIM, (now,)).fetchone()
            if row is None:
                break
            delivery_id, body, attempts, url, secret, event = row
            conn.execute(LEASE, (now + settings.lease, delivery_id))
        data = body.encode()
        answer = poster(
            url,
            data,
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                EVENT_HEADER: event,
                DELIVERY_HEADER: str(delivery_id),
                SIGNATURE_HEADER: signature(data, secret),
            },
            settings.timeout,
        )
        attempt = attempts + 1
        if answer.ok:
            outcome, delivered = "delivered", delivered + 1
        elif answer.retryable and attempt < settings.max_attempts:
            outcome, retrying = "pending", retrying + 1
        else:
            outcome, failed = "failed", failed + 1
        with conn.transaction():
            conn.execute(
                RECORD_ATTEMPT,
                {
                    "id": delivery_id,
                    "now": now,
                    "status": answer.status,
                    "error": None if answer.error is None else answer.error[:MAX_ERROR_LENGTH],
                    "outcome": outcome,
                    "next": now + settings.backoff(attempt),
                },
            )
        if outcome != "delivered":
            logfmt.log(
                log,
                logging.WARNING,
                "webhook_attempt_failed",
                delivery=delivery_id,
                attempt=attempt,
                outcome=outcome,
                status=answer.status,
                error=answer.error,
            )
    return DeliveryReport(delivered=delivered, retrying=retrying, failed=failed)
