"""Bluetooth LE collection with bleak: scanning, connecting, one session per device.

This module is the only place bleak and bleak-retry-connector are imported (STYLE.md 1).
The collector scans for the services the device catalog knows, reports every device it
hears (the fleet sees them), and connects only to devices on the allowlist, through
bleak-retry-connector (Home Assistant's recommended practice: ../shared/reference/ble.md
section 6). At most ``max_connections`` sessions run at once; a session that fails is
reported and its device retried with exponential backoff, and nothing a device does
stops the gateway. The pairing agent (gateway.bluez) is registered before the first
connection, so devices that need bonding pair headless.

Errors raised here: ``BluetoothUnavailable`` when there is no BlueZ to talk to at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

# bleak is confined to this module by the banned-api rule (pyproject.toml); this is the
# module the rule points to.
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError
from bleak.exc import BleakGATTProtocolErrorCode as AttError
from bleak_retry_connector import (
    BleakClientWithServiceCache,
    establish_connection,
)
from dbus_fast import DBusError

from devices import CATALOG, Advertisement, DeviceProfile, match_profile
from devices.catalog import SCAN_SERVICE_UUIDS
from devices.uuids import uuid128
from gateway.backoff import Backoff
from gateway.bluez import BluezLink, PairingAgent
from gateway.event import Event, EventKind
from gateway.session import GattError, Session, SessionOptions, SessionReport, SessionSink

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# ATT errors that mean "bond first" (Core Vol 3 Part F 3.4.1.1): BlueZ answers a GATT
# request on an unbonded link to a device that demands security with one of them.
_NEEDS_BOND = frozenset(
    {
        AttError.INSUFFICIENT_AUTHENTICATION,
        AttError.INSUFFICIENT_AUTHORIZATION,
        AttError.INSUFFICIENT_ENCRYPTION,
        AttError.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
    }
)
# Seconds a disconnect may take before the gateway stops waiting for it (bleak itself
# waits up to 10 s for BlueZ's Connected=False).
_DISCONNECT_TIMEOUT = 12.0
# Words in BlueZ's pairing errors (org.bluez.Error.AuthenticationFailed/Rejected...).
_PAIRING_WORDS = ("Authentication", "Pair")


class BluetoothUnavailable(Exception):
    """No BlueZ on the system bus, or no adapter: the gateway cannot collect."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """A device heard in a scan, on the allowlist or not."""

    device_id: str
    name: str | None
    rssi: int | None
    at: datetime
    profile: str | None


class CollectorSink(SessionSink, Protocol):
    """What the collector needs from the gateway service beyond what a session does."""

    def allowlist(self) -> Mapping[str, str | None]: ...  # device id -> profile key
    def max_connections(self) -> int: ...
    def scan_interval(self) -> float: ...
    def seen(self, sighting: Sighting) -> None: ...
    def visited(self, report: SessionReport) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorOptions:
    adapter: str | None
    # Seconds each scan listens.
    scan_duration: float
    # Seconds before a device that was just collected is visited again.
    revisit_after: float
    # Failed sessions: reconnect after this backoff (seconds).
    retry: Backoff
    # Connection attempts bleak-retry-connector makes per visit.
    connect_attempts: int
    session: SessionOptions


class BleakGattLink:
    """``gateway.session.GattLink`` over a connected bleak client."""

    def __init__(
        self,
        client: BleakClient,
        *,
        device_id: str,
        device_path: str | None,
        bluez: BluezLink,
        disconnected: asyncio.Event,
        timeout: float,
    ) -> None:
        self.device_id = device_id
        self.disconnected = disconnected
        self._client = client
        self._device_path = device_path
        self._bluez = bluez
        self._timeout = timeout

    def has(self, characteristic: int | str) -> bool:
        return self._client.services.get_characteristic(_uuid(characteristic)) is not None

    async def read(self, characteristic: int | str) -> bytes:
        uuid = _uuid(characteristic)
        return bytes(await self._gatt(lambda: self._client.read_gatt_char(uuid)))

    async def write(self, characteristic: int | str, data: bytes) -> None:
        uuid = _uuid(characteristic)
        await self._gatt(lambda: self._client.write_gatt_char(uuid, data, response=True))

    async def subscribe(self, characteristic: int | str, callback: Callable[[bytes], None]) -> None:
        def deliver(_: BleakGATTCharacteristic, data: bytearray) -> None:
            callback(bytes(data))

        uuid = _uuid(characteristic)
        await self._gatt(lambda: self._client.start_notify(uuid, deliver))

    async def battery(self) -> int | None:
        return None if self._device_path is None else await self._bluez.battery(self._device_path)

    async def _gatt(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """One GATT exchange, bounded; bond and retry once when the device demands it."""
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    return await operation()
            except BleakGATTProtocolError as exc:
                if exc.code not in _NEEDS_BOND:
                    raise
                log.info("%s asks for bonding (%s); pairing", self.device_id, exc)
                async with asyncio.timeout(self._timeout):
                    await self._client.pair()
                    return await operation()
        except (BleakError, TimeoutError, EOFError, BrokenPipeError) as exc:
            raise GattError(f"{type(exc).__name__}: {exc}") from exc


def _uuid(characteristic: int | str) -> str:
    return uuid128(characteristic) if isinstance(characteristic, int) else characteristic.lower()


class BleCollector:
    """Scan, connect and collect until cancelled."""

    def __init__(
        self,
        options: CollectorOptions,
        *,
        sink: CollectorSink,
        clock: Callable[[], datetime],
    ) -> None:
        self._options = options
        self._sink = sink
        self._clock = clock
        self._bluez = BluezLink()
        self._found: dict[str, tuple[BLEDevice, DeviceProfile | None]] = {}
        self._active: set[str] = set()
        self._next_visit: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        agent = PairingAgent(allowed=self._allowed, refused=self._refused)
        try:
            await self._bluez.open(agent)
        except (DBusError, OSError, EOFError) as exc:
            raise BluetoothUnavailable(f"cannot register with BlueZ: {exc}") from exc
        try:
            async with asyncio.TaskGroup() as sessions:
                while True:
                    await self._scan()
                    for device, profile in self._due():
                        sessions.create_task(self._visit(device, profile))
                    await asyncio.sleep(self._sink.scan_interval())
        finally:
            await self._bluez.close()

    def _allowed(self, device_id: str) -> bool:
        return device_id in self._sink.allowlist()

    def _refused(self, device_id: str, why: str) -> None:
        self._event(EventKind.PAIRING_FAILED, why, device_id)

    def _event(self, kind: EventKind, detail: str, device_id: str) -> None:
        self._sink.event(Event(kind=kind, at=self._clock(), detail=detail, device_id=device_id))

    # -- scanning --------------------------------------------------------------------

    async def _scan(self) -> None:
        adapter = self._options.adapter
        try:
            async with BleakScanner(
                self._heard,
                service_uuids=list(SCAN_SERVICE_UUIDS),
                bluez={"adapter": adapter} if adapter else {},
            ):
                await asyncio.sleep(self._options.scan_duration)
        except BleakError as exc:
            # The adapter may come back (powered off, reset, busy): report and scan on.
            self._sink.event(Event(kind=EventKind.SCAN_FAILED, at=self._clock(), detail=str(exc)))

    def _heard(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        device_id = device.address.upper()
        assigned = self._sink.allowlist().get(device_id)
        profile = CATALOG.get(assigned) if assigned else None
        if profile is None:
            profile = match_profile(
                Advertisement(
                    local_name=advertisement.local_name,
                    service_uuids=frozenset(advertisement.service_uuids),
                    manufacturer_ids=frozenset(advertisement.manufacturer_data),
                )
            )
        self._found[device_id] = (device, profile)
        rssi = advertisement.rssi
        self._sink.seen(
            Sighting(
                device_id=device_id,
                name=advertisement.local_name,
                # -127 is BlueZ's "no RSSI" (bleak's default); the status sends null.
                rssi=rssi if -127 < rssi <= 20 else None,
                at=self._clock(),
                profile=None if profile is None else profile.key,
            )
        )

    def _due(self) -> list[tuple[BLEDevice, DeviceProfile]]:
        now = time.monotonic()
        allowlist = self._sink.allowlist()
        room = self._sink.max_connections() - len(self._active)
        due: list[tuple[BLEDevice, DeviceProfile]] = []
        for device_id, (device, profile) in self._found.items():
            if room <= len(due):
                break
            if (
                device_id in allowlist
                and device_id not in self._active
                and profile is not None
                and self._next_visit.get(device_id, 0.0) <= now
            ):
                due.append((device, profile))
        return due

    # -- visiting --------------------------------------------------------------------

    async def _visit(self, device: BLEDevice, profile: DeviceProfile) -> None:
        device_id = device.address.upper()
        self._active.add(device_id)
        try:
            report = await self._session(device, profile, device_id)
        # A device must never take the gateway down: whatever one does wrong is
        # reported and retried with backoff (bleak, bleak-retry-connector, dbus-fast and
        # the session raise a variety of errors on a bad link).
        except Exception as exc:
            failures = self._failures.get(device_id, 0) + 1
            self._failures[device_id] = failures
            delay = self._options.retry.delay(failures - 1)
            self._next_visit[device_id] = time.monotonic() + delay
            kind = (
                EventKind.PAIRING_FAILED
                if any(word in str(exc) for word in _PAIRING_WORDS)
                else EventKind.DEVICE_ERROR
            )
            self._event(kind, f"{exc}; attempt {failures}, retry in {delay:.1f} s", device_id)
        else:
            self._failures.pop(device_id, None)
            self._next_visit[device_id] = time.monotonic() + self._options.revisit_after
            self._sink.visited(report)
        finally:
            self._active.discard(device_id)

    async def _session(
        self, device: BLEDevice, profile: DeviceProfile, device_id: str
    ) -> SessionReport:
        disconnected = asyncio.Event()
        client = await establish_connection(
            BleakClientWithServiceCache,
            device,
            device_id,
            disconnected_callback=lambda _: disconnected.set(),
            max_attempts=self._options.connect_attempts,
            pair=profile.requires_pairing,
        )
        try:
            link = BleakGattLink(
                client,
                device_id=device_id,
                device_path=_device_path(device),
                bluez=self._bluez,
                disconnected=disconnected,
                timeout=self._options.session.gatt_timeout,
            )
            session = Session(
                link,
                profile=profile,
                options=self._options.session,
                sink=self._sink,
                clock=self._clock,
            )
            return await session.run()
        finally:
            try:
                async with asyncio.timeout(_DISCONNECT_TIMEOUT):
                    await client.disconnect()
            except (BleakError, BleakDBusError, TimeoutError, EOFError) as exc:
                log.warning("disconnecting %s: %s", device_id, exc)


def _device_path(device: BLEDevice) -> str | None:
    """BlueZ's object path of a scanned device (bleak keeps it in ``details``)."""
    details = device.details
    path = details.get("path") if isinstance(details, dict) else None
    return path if isinstance(path, str) else None
