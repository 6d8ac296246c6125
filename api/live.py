"""Live alert events for Server-Sent Events: one follower per api process, many streams.

``AlertFeed`` follows the alert_events log with ingest's ``EventRelay`` (every committed
event once, in commit order, from any process: ingest, the watchdog, other api workers)
on one dedicated connection, polling every ``POLL_INTERVAL_S``, and fans each event out
to the streams subscribed in this process (reference perf.md 7: one broadcaster per
worker, never a connection per client). A stream that falls ``QUEUE_SIZE`` events
behind is cut off and its client reconnects (resuming with Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from ingest.alert_event import AlertEvent, EventRelay
from ingest.db import Connection as SyncConnection
from ingest.db import connect
from ingest.errors import IngestError

log = logging.getLogger(__name__)

# How often new events are looked for: the added latency of a live alert, at one small
# indexed query per second per process.
POLL_INTERVAL_S = 1.0
# Events a slow stream may lag behind before it is cut off.
QUEUE_SIZE = 1000
# Wait before reconnecting after the database went away.
RETRY_S = 5.0


class _Handover:
    """A connection made on a worker thread for a coroutine that may be cancelled
    meanwhile: whichever side comes second closes it, so none is ever left open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._conn: SyncConnection | None = None

    def deliver(self, conn: SyncConnection) -> None:
        with self._lock:
            if not self._abandoned:
                self._conn = conn
                return
        conn.close()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


async def _connect(url: str) -> SyncConnection:
    handover = _Handover()

    def work() -> SyncConnection:
        conn = connect(url, autocommit=True)
        handover.deliver(conn)
        return conn

    try:
        return await asyncio.to_thread(work)
    except asyncio.CancelledError:
        # The thread goes on connecting after the cancel: it must not leak what it makes.
        handover.abandon()
        raise


class AlertFeed:
    """Follows alert events and hands each to every current subscriber."""

    def __init__(self, database_url: str, *, interval: float = POLL_INTERVAL_S) -> None:
        self._url = database_url
        self._interval = interval
        self._subscribers: set[asyncio.Queue[AlertEvent | None]] = set()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[AlertEvent | None]]:
        """A queue of the events from now on; None means "cut off, reconnect"."""
        queue: asyncio.Queue[AlertEvent | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: AlertEvent) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    async def run(self) -> None:
        """Follow the log until cancelled, reconnecting after database failures."""
        while True:
            try:
                conn = await _connect(self._url)
            except IngestError as exc:
                log.warning("alert feed cannot connect: %s", exc)
                await asyncio.sleep(RETRY_S)
                continue
            try:
                await self._follow(conn)
            except Exception as exc:  # any database failure: reconnect, never die
                log.warning("alert feed lost its connection: %s", exc)
                await asyncio.sleep(RETRY_S)
            finally:
                await asyncio.to_thread(conn.close)

    async def _follow(self, conn: SyncConnection) -> None:
        relay = await asyncio.to_thread(EventRelay, conn)
        while True:
            for event in await asyncio.to_thread(relay.poll, conn):
                self.publish(event)
            await asyncio.sleep(self._interval)
