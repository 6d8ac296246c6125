"""The gateway service: devices -> outbox -> MQTT, and back again: acks and config.

    collector (BLE or simulated) --readings--> outbox (SQLite, fsynced) --> publisher --> broker
                 ^                                 ^                                        |
                 +-- allowlist, settings <-- config (retained) <----------------------------+
                                                   +-- ack (after ingest's commit) <--------+

Three tasks run in one ``asyncio.TaskGroup``: the collector, the publisher and the
status loop; paho's network thread feeds acks and config back through the loop. The
allowlist and the operating settings come from the api's retained config message; the
last one received is kept in ``state_dir`` so an offline start uses it, and the local
settings file stands in until there is one. ``Gateway`` is also what the collectors and
sessions report to (``gateway.ble.CollectorSink``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from devices import Reading
from devices.reading import utc_now
from gateway.backoff import Backoff
from gateway.ble import BleCollector, CollectorOptions, Sighting
from gateway.contract import (
    Channel,
    ContractError,
    GatewayConfig,
    GatewayFlag,
    GatewayState,
    RemoteSettings,
    Status,
    decode_ack,
    decode_config,
    encode,
    offline_status,
    parse_topic,
    topic,
)
from gateway.event import Event, EventKind
from gateway.inventory import Inventory
from gateway.mqtt import MqttLink, Will
from gateway.outbox import Outbox
from gateway.publisher import Publisher
from gateway.session import SessionOptions, SessionReport
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

# Recent events kept for inspection (tests, the command's summary on exit).
RECENT_EVENTS = 100
# An outbox that stays full reports again at most this often.
FULL_REPORT_EVERY = 60.0
# The status is republished on a change, but no more often than this (seconds).
STATUS_MIN_GAP = 1.0
# Seconds to wait for the broker when publishing the final offline status on shutdown.
SHUTDOWN_WAIT = 2.0


class Collector(Protocol):
    async def run(self) -> None: ...


CollectorFactory = Callable[["Gateway"], Collector]


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        collector: CollectorFactory,
        software_version: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.software_version = software_version
        self.clock = clock
        self.events: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self.event_counts: Counter[EventKind] = Counter()
        self.inventory = Inventory()
        self._collector_factory = collector
        self._config: GatewayConfig | None = None
        self._outbox: Outbox | None = None
        self._publisher: Publisher | None = None
        self._mqtt: MqttLink | None = None
        self._status_due = asyncio.Event()
        # Set once the outbox is open and the broker connection is being made.
        self.ready = asyncio.Event()
        self._full_reported = -FULL_REPORT_EVERY

    @property
    def outbox(self) -> Outbox:
        assert self._outbox is not None, "the gateway is not running"
        return self._outbox

    # -- running ---------------------------------------------------------------------

    async def run(self) -> None:
        settings = self.settings
        gateway_id = settings.gateway_id
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self._outbox = Outbox(settings.outbox_path, capacity=settings.outbox.capacity)
        self._config = self._stored_config()
        self.inventory.assign(self.allowlist())
        self._mqtt = MqttLink(
            settings.mqtt,
            client_id=gateway_id,
            will=Will(
                topic=topic(gateway_id, Channel.STATUS), payload=encode(offline_status(gateway_id))
            ),
            subscriptions=(topic(gateway_id, Channel.CONFIG), topic(gateway_id, Channel.ACK)),
            on_message=self._message,
            on_connection=self._connection,
            on_refused_subscription=lambda detail: self.report(
                EventKind.SUBSCRIPTION_REFUSED, detail
            ),
        )
        self._publisher = Publisher(
            self._outbox,
            self._mqtt,
            gateway_id=gateway_id,
            settings=settings.publish,
            remote=self.remote_settings,
            events=self.event,
            clock=self.clock,
        )
        self._mqtt.start()
        self.ready.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._publisher.run())
                tasks.create_task(self._status_loop())
                tasks.create_task(self._collector_factory(self).run())
        finally:
            try:
                last = self._status(GatewayState.OFFLINE)
                await self._mqtt.stop(last=last, wait_s=SHUTDOWN_WAIT)
            finally:
                self._outbox.close()

    # -- what collectors and sessions report ---------------------------------------------

    def readings(self, readings: tuple[Reading, ...]) -> None:
        """Store durably (returns after the fsync), then let the publisher know."""
        added = self.outbox.add(readings)
        if added.lost or added.over_capacity:
            now = time.monotonic()
            if now - self._full_reported >= FULL_REPORT_EVERY:
                self._full_reported = now
                counts = self.outbox.counts()
                self.report(
                    EventKind.OUTBOX_FULL,
                    f"{counts.depth} readings held (capacity {self.outbox.capacity}); "
                    f"continuous samples lost so far: {counts.dropped} dropped, "
                    f"{counts.refused} refused",
                )
            self._status_due.set()
        if self._publisher is not None:
            self._publisher.readings_added()

    def event(self, event: Event) -> None:
        self.events.append(event)
        self.event_counts[event.kind] += 1
        log.warning("event %s", event)

    def report(self, kind: EventKind, detail: str, device_id: str | None = None) -> None:
        self.event(Event(kind=kind, at=self.clock(), detail=detail, device_id=device_id))

    def mark(self, device_id: str) -> datetime | None:
        return self.outbox.mark(device_id)

    def set_mark(self, device_id: str, device_time: datetime) -> None:
        self.outbox.set_mark(device_id, device_time)

    def allowlist(self) -> Mapping[str, str | None]:
        devices = self._config.devices if self._config is not None else self.settings.devices
        return {device.device_id: device.profile for device in devices}

    def remote_settings(self) -> RemoteSettings:
        if self._config is not None:
            return self._config.settings
        local = self.settings
        return RemoteSettings(
            scan_interval_s=local.ble.scan_interval_s,
            max_connections=local.ble.max_connections,
            batch_size=local.publish.batch_size,
            batch_wait_s=local.publish.batch_wait_s,
            status_interval_s=local.publish.status_interval_s,
        )

    def max_connections(self) -> int:
        return self.remote_settings().max_connections

    def scan_interval(self) -> float:
        return float(self.remote_settings().scan_interval_s)

    def seen(self, sighting: Sighting) -> None:
        self.inventory.heard(sighting.device_id, rssi=sighting.rssi, at=sighting.at)

    def visited(self, report: SessionReport) -> None:
        information = report.information
        self.inventory.visited(
            report.device_id,
            at=self.clock(),
            battery=report.battery,
            firmware=information.firmware_revision,
            model=information.model,
            serial=information.serial,
            clock_offset=report.clock_skew,
        )
        self._status_due.set()

    # -- what the broker brings ----------------------------------------------------------

    def _connection(self, up: bool) -> None:
        if up and self._publisher is not None:
            self._publisher.reconnected()
            self._status_due.set()

    def _message(self, name: str, payload: bytes) -> None:
        gateway_id = self.settings.gateway_id
        try:
            _, channel = parse_topic(name)
            if channel is Channel.ACK and self._publisher is not None:
                self._publisher.acknowledged(decode_ack(payload, topic_gateway_id=gateway_id))
                self._status_due.set()
            elif channel is Channel.CONFIG and payload:
                self._apply(decode_config(payload, topic_gateway_id=gateway_id), payload)
        except ContractError as exc:
            kind = EventKind.CONFIG_REJECTED if name.endswith("/config") else EventKind.ACK_REJECTED
            self.report(kind, f"{name}: {exc}")

    def _apply(self, config: GatewayConfig, payload: bytes) -> None:
        self._config = config
        self.inventory.assign(self.allowlist())
        path = self.settings.config_path
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(payload)
        temporary.replace(path)  # atomic: an offline start never reads half a config
        self._status_due.set()
        log.info("config of %s applied: %d devices", config.issued_at, len(config.devices))

    def _stored_config(self) -> GatewayConfig | None:
        path = self.settings.config_path
        if not path.exists():
            return None
        try:
            return decode_config(path.read_bytes(), topic_gateway_id=self.settings.gateway_id)
        except ContractError as exc:
            self.report(EventKind.CONFIG_REJECTED, f"stored config {path}: {exc}")
            return None

    # -- status ----------------------------------------------------------------------

    def _status(self, state: GatewayState) -> tuple[str, bytes]:
        gateway_id = self.settings.gateway_id
        flags = {GatewayFlag.OUTBOX_FULL} if self.outbox.counts().full else set()
        status = Status(
            gateway_id=gateway_id,
            state=state,
            at=self.clock(),
            software_version=self.software_version,
            outbox_depth=self.outbox.depth(),
            flags=frozenset(flags),
            devices=self.inventory.statuses(),
        )
        return topic(gateway_id, Channel.STATUS), encode(status)

    async def _status_loop(self) -> None:
        assert self._mqtt is not None
        while True:
            await self._mqtt.wait_connected()
            self._status_due.clear()
            self.inventory.changed = False
            name, payload = self._status(GatewayState.ONLINE)
            await self._mqtt.publish(
                name, payload, retain=True, wait_s=self.settings.publish.ack_timeout_s
            )
            await asyncio.sleep(STATUS_MIN_GAP)
            interval = self.remote_settings().status_interval_s - STATUS_MIN_GAP
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, interval)):
                    await self._status_due.wait()


def ble_collector(gateway: Gateway) -> Collector:
    """The real thing: BLE devices through BlueZ."""
    ble = gateway.settings.ble
    options = CollectorOptions(
        adapter=ble.adapter,
        scan_duration=ble.scan_duration_s,
        revisit_after=ble.revisit_after_s,
        retry=Backoff(
            initial=ble.retry_initial_s, maximum=max(ble.retry_initial_s, ble.retry_max_s)
        ),
        connect_attempts=ble.connect_attempts,
        session=SessionOptions(
            device_tz=gateway.settings.device_tz,
            gatt_timeout=ble.gatt_timeout_s,
            idle_timeout=ble.idle_timeout_s,
            clock_tolerance=timedelta(seconds=ble.clock_tolerance_s),
            set_clock=ble.set_clock,
            delete_after_download=ble.delete_after_download,
        ),
    )
    return BleCollector(options, sink=gateway, clock=gateway.clock)
