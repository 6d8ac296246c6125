"""The publisher: outbox -> readings batches on MQTT, until ingest acknowledges them.

A batch is cut from the oldest unbatched readings when ``batch_size`` are waiting or the
oldest has waited ``batch_wait_s``, and only while fewer than ``max_in_flight`` batches
await their ack, so a long backlog drains as a bounded window rather than a flood
(paho held 200k outstanding messages badly: floors.md 3.4). A batch not acknowledged
``ack_timeout_s`` after its publish is sent again, with the same id, after an
exponentially growing wait up to ``resend_max_s``; after a reconnect every
unacknowledged batch is due at once. Batches go out oldest first, so each device's
readings reach ingest in the order they were taken unless a batch is lost in between.

A refused publish (MQTT 5 PUBACK reason code >= 0x80) keeps its batch and raises a
technical event; it is retried like a lost one. An ack removes its batches from the
outbox; a batch ingest rejected as invalid is removed too (the same bytes would fail
again) and raises an event.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import datetime

from devices import Reading
from gateway.backoff import Backoff
from gateway.contract import (
    Ack,
    Channel,
    ReadingsBatch,
    RemoteSettings,
    encode,
    new_batch_id,
    topic,
)
from gateway.event import Event, EventKind
from gateway.mqtt import MqttLink
from gateway.outbox import Outbox
from gateway.settings import PublishSettings


class Publisher:
    def __init__(
        self,
        outbox: Outbox,
        mqtt: MqttLink,
        *,
        gateway_id: str,
        settings: PublishSettings,
        remote: Callable[[], RemoteSettings],
        events: Callable[[Event], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._outbox = outbox
        self._mqtt = mqtt
        self._gateway_id = gateway_id
        self._topic = topic(gateway_id, Channel.READINGS)
        self._settings = settings
        self._remote = remote
        self._events = events
        self._clock = clock
        self._backoff = Backoff(
            initial=settings.ack_timeout_s,
            maximum=max(settings.ack_timeout_s, settings.resend_max_s),
        )
        self._wake = asyncio.Event()
        # Unacknowledged batches, oldest first -> when (monotonic) to send them again.
        self._due: dict[str, float] = {}
        self._waiting_since: float | None = None

    # -- what the service tells it -------------------------------------------------------

    def readings_added(self) -> None:
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        self._wake.set()

    def reconnected(self) -> None:
        for batch_id in self._due:
            self._due[batch_id] = 0.0
        self._wake.set()

    def acknowledged(self, ack: Ack) -> int:
        """Forget the batches ``ack`` names; the number of readings that left the outbox."""
        named = (*ack.batch_ids, *(rejection.batch_id for rejection in ack.rejected))
        removed = self._outbox.acknowledge(named)
        for batch_id in named:
            self._due.pop(batch_id, None)
        for rejection in ack.rejected:
            self._event(EventKind.BATCH_REJECTED, f"batch {rejection.batch_id}: {rejection.reason}")
        self._wake.set()
        return removed

    @property
    def in_flight(self) -> int:
        return len(self._due)

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        self._due = dict.fromkeys((b for b, _ in self._outbox.pending_batches()), 0.0)
        if self._outbox.counts().depth:
            self._waiting_since = -math.inf  # left over from the last run: send at once
        while True:
            await self._mqtt.wait_connected()
            sent = await self._send_due()
            sent |= await self._send_new()
            if not sent:
                await self._sleep()

    async def _send_due(self) -> bool:
        sent = False
        for batch_id in list(self._due):
            if not self._mqtt.connected:
                break
            if batch_id in self._due and self._due[batch_id] <= time.monotonic():
                await self._send(batch_id)
                sent = True
        return sent

    async def _send_new(self) -> bool:
        sent = False
        while (
            self._mqtt.connected
            and len(self._due) < self._settings.max_in_flight
            and self._batch_ready()
        ):
            batch = self._outbox.next_batch(size=self._remote().batch_size, new_id=new_batch_id)
            if batch is None:
                self._waiting_since = None
                break
            self._due[batch.batch_id] = 0.0
            await self._send(batch.batch_id)
            sent = True
        return sent

    def _batch_ready(self) -> bool:
        if self._waiting_since is None:
            return False
        remote = self._remote()
        if time.monotonic() - self._waiting_since >= remote.batch_wait_s:
            return True
        return self._outbox.unbatched() >= remote.batch_size

    async def _sleep(self) -> None:
        now = time.monotonic()
        wake_at = min(self._due.values(), default=math.inf)
        if self._waiting_since is not None and len(self._due) < self._settings.max_in_flight:
            wake_at = min(wake_at, self._waiting_since + self._remote().batch_wait_s)
        self._wake.clear()
        if wake_at <= now:
            return
        try:
            async with asyncio.timeout(None if wake_at == math.inf else wake_at - now):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _send(self, batch_id: str) -> None:
        batch = self._outbox.batch(batch_id)
        if batch is None or not batch.readings:
            # Acknowledged meanwhile, or every sample in it fell to the drop policy.
            self._outbox.acknowledge([batch_id])
            self._due.pop(batch_id, None)
            return
        payload = encode(
            ReadingsBatch(
                batch_id=batch_id,
                gateway_id=self._gateway_id,
                sent_at=self._clock(),
                readings=self._consistent(batch_id, batch.readings),
            )
        )
        outcome = await self._mqtt.publish(
            self._topic, payload, wait_s=self._settings.ack_timeout_s
        )
        if batch_id not in self._due:
            return  # the ack beat the PUBACK
        if outcome.refused:
            self._event(
                EventKind.PUBLISH_REFUSED,
                f"batch {batch_id} ({len(batch.readings)} readings) kept: {outcome.reason}",
            )
        delay = self._backoff.delay(batch.attempts)
        self._due[batch_id] = time.monotonic() + delay
        self._outbox.attempted(batch_id, next_attempt_at=time.time() + delay)

    def _consistent(self, batch_id: str, readings: tuple[Reading, ...]) -> tuple[Reading, ...]:
        """One reading per storage key. A repeat of the same reading is harmless (a
        record downloaded twice); two different readings for one device, kind and
        instant would make ingest refuse the whole batch, so the first one is sent and
        the conflict reported."""
        first: dict[tuple[str, str, datetime], Reading] = {}
        conflicts = 0
        for reading in readings:
            kept = first.setdefault((reading.device_id, reading.kind, reading.measured_at), reading)
            conflicts += kept != reading
        if conflicts:
            self._event(
                EventKind.READING_CONFLICT,
                f"batch {batch_id}: {conflicts} readings differ from another with the same "
                "device, kind and time; the first of each is sent",
            )
        return tuple(first.values())

    def _event(self, kind: EventKind, detail: str) -> None:
        self._events(Event(kind=kind, at=self._clock(), detail=detail))
