"""An in-process event stream: publish once, every subscriber gets it (for SSE).

The watchdog feeds it from ``EventRelay`` (ingest/alert_event.py), so a subscriber sees
every committed alert event of every process, in commit order. Publishing never blocks:
a subscriber that falls ``maxsize`` events behind is cut off (``overflowed``) and must
resubscribe and catch up from the alert_events table, as an SSE client does with
Last-Event-ID; one slow reader never holds up the others or the watchdog.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

# Events a subscriber may lag behind before it is cut off: minutes of a busy region's
# alert traffic.
DEFAULT_MAXSIZE = 10_000


class Subscription(Generic[T]):
    """One subscriber's queue; use as a context manager, or ``close`` it."""

    def __init__(self, stream: EventStream[T], maxsize: int) -> None:
        self._stream = stream
        self._queue: queue.Queue[T] = queue.Queue(maxsize)
        self.overflowed = False
        self.closed = False

    def get(self, timeout: float | None = None) -> T | None:
        """The next event, or None after ``timeout`` seconds (or once overflowed)."""
        if self.overflowed:
            return None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self) -> list[T]:
        """Every event waiting now, without blocking."""
        events = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        self._stream.unsubscribe(self)

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _offer(self, event: T) -> bool:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.overflowed = True
            return False
        return True


class EventStream(Generic[T]):
    """Thread-safe publish/subscribe of events of type ``T``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscription[T]] = []

    def subscribe(self, *, maxsize: int = DEFAULT_MAXSIZE) -> Subscription[T]:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        subscription = Subscription(self, maxsize)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)
        subscription.closed = True

    def publish(self, event: T) -> int:
        """Offer ``event`` to every subscriber; returns how many took it."""
        with self._lock:
            subscribers = list(self._subscribers)
        taken = 0
        for subscription in subscribers:
            if subscription._offer(event):
                taken += 1
            else:
                self.unsubscribe(subscription)
        return taken

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)
