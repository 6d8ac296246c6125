"""One visit to one device: who it is, its readings, its clock, then hang up.

The steps follow how real devices want to be collected (../shared/reference/ble.md 1.5,
2.3; obniz HEM_9200T and UA651BLE drivers, Packetcraft ``plxpc_main.c``):

1. read Device Information (model, serial, firmware) and the battery;
2. read and set the clock through Current Time (before any data, as A&D's flow writes
   the time before subscribing: obniz UA651BLE): a clock further than the tolerance
   from the gateway's is reported, and set;
3. subscribe to the profile's measurement characteristics: a BLS 1.0 cuff now indicates
   its stored, unsent records by itself, a PLX oximeter starts its continuous stream;
4. for RACP devices, download storage: "report number of stored records", then "report
   all", skipping records already taken (the outbox's per-device mark), then "delete
   all" once the device answered success (every record is durable by then);
5. stay while values keep coming (a continuous stream), leave after ``idle_timeout`` of
   silence or when the device hangs up, as cuffs do after their last record.

Every value is decoded by ``devices`` and handed to the sink, which stores it durably
before returning: the outbox commit happens inside the notification callback, before
the next value is looked at. BlueZ confirms indications itself, so "durable before the
device may forget it" holds up to the device's own step: a cuff that deletes a record
as soon as the ATT confirmation arrives may lose it if the gateway dies in the same
milliseconds.

The session talks to a ``GattLink`` (gateway.ble implements it with bleak; tests and the
simulation may bring their own) and raises ``GattError`` when the link fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from devices import Decoder, DeviceProfile, Flag, ParseError, Reading, RecordTransfer
from devices.battery import parse_battery_level
from devices.current_time import current_time_for, encode_current_time, parse_current_time
from devices.device_information import (
    DeviceInformation,
    DeviceInformationString,
    device_information_from,
)
from devices.racp import (
    RacpNumberOfRecords,
    RacpResponse,
    RacpResponseCode,
    delete_all_records,
    encode_racp_request,
    parse_racp_response,
    report_all_records,
    report_number_of_records,
)
from devices.uuids import Characteristic
from gateway.event import Event, EventKind


class GattError(Exception):
    """A GATT operation failed or the link went down (the link translates its library's
    errors into this)."""


class GattLink(Protocol):
    """A connected device, as a session needs it."""

    device_id: str
    disconnected: asyncio.Event

    def has(self, characteristic: int | str) -> bool: ...
    async def read(self, characteristic: int | str) -> bytes: ...
    async def write(self, characteristic: int | str, data: bytes) -> None: ...
    async def subscribe(
        self, characteristic: int | str, callback: Callable[[bytes], None]
    ) -> None: ...
    async def battery(self) -> int | None: ...


class SessionSink(Protocol):
    """Where a session's results go (the gateway service)."""

    def readings(self, readings: tuple[Reading, ...]) -> None: ...
    def event(self, event: Event) -> None: ...
    def mark(self, device_id: str) -> datetime | None: ...
    def set_mark(self, device_id: str, device_time: datetime) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    device_tz: tzinfo
    # Seconds one GATT exchange (or the next record of a download) may take.
    gatt_timeout: float
    # Seconds of silence after which the gateway hangs up.
    idle_timeout: float
    # A device clock further than this from the gateway's is reported.
    clock_tolerance: timedelta
    set_clock: bool = True
    delete_after_download: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReport:
    device_id: str
    information: DeviceInformation
    battery: int | None
    readings: int
    clock_skew: timedelta | None


_INFORMATION = (*DeviceInformationString, Characteristic.SYSTEM_ID, Characteristic.PNP_ID)


class Session:
    """Collect from one connected device once; ``run`` returns what was learnt."""

    def __init__(
        self,
        link: GattLink,
        *,
        profile: DeviceProfile,
        options: SessionOptions,
        sink: SessionSink,
        clock: Callable[[], datetime],
    ) -> None:
        self._link = link
        self._profile = profile
        self._options = options
        self._sink = sink
        self._clock = clock
        self._device_id = link.device_id
        self._decoder = Decoder(
            device_id=link.device_id, profile=profile, device_tz=options.device_tz
        )
        self._mark = sink.mark(link.device_id)
        self._racp: asyncio.Queue[RacpNumberOfRecords | RacpResponse] = asyncio.Queue()
        self._last_value = time.monotonic()
        self._readings = 0
        self._skew_reported = False

    def _event(self, kind: EventKind, detail: str) -> None:
        self._sink.event(
            Event(kind=kind, at=self._clock(), detail=detail, device_id=self._device_id)
        )

    async def run(self) -> SessionReport:
        information = await self._identify()
        battery = await self._battery()
        # Before subscribing: a cuff that pushes its records hangs up right after them.
        skew = await self._clock_check()
        for characteristic in self._profile.measurement_characteristics:
            if self._link.has(characteristic):
                await self._link.subscribe(characteristic, self._value_handler(characteristic))
        if self._profile.record_transfer is RecordTransfer.RACP and self._link.has(
            Characteristic.RECORD_ACCESS_CONTROL_POINT
        ):
            await self._download()
        await self._until_quiet()
        return SessionReport(
            device_id=self._device_id,
            information=information,
            battery=battery,
            readings=self._readings,
            clock_skew=skew,
        )

    # -- who, and how full -------------------------------------------------------------

    async def _identify(self) -> DeviceInformation:
        values: dict[int, bytes] = {}
        for characteristic in _INFORMATION:
            if self._link.has(characteristic):
                try:
                    values[int(characteristic)] = await self._link.read(characteristic)
                except GattError:
                    if self._link.disconnected.is_set():
                        raise
                    # A device may refuse an optional string; the rest still identify it.
        try:
            return device_information_from(values)
        except ParseError as exc:
            self._event(EventKind.DECODE_FAILED, f"device information: {exc}")
            return DeviceInformation()

    async def _battery(self) -> int | None:
        level = await self._link.battery()
        if level is not None or not self._link.has(Characteristic.BATTERY_LEVEL):
            return level
        try:
            return parse_battery_level(await self._link.read(Characteristic.BATTERY_LEVEL))
        except ParseError as exc:
            self._event(EventKind.DECODE_FAILED, f"battery level: {exc}")
            return None

    # -- readings --------------------------------------------------------------------

    def _value_handler(self, characteristic: str) -> Callable[[bytes], None]:
        def handle(data: bytes) -> None:
            self._last_value = time.monotonic()
            received_at = self._clock()
            try:
                readings = self._decoder.decode(characteristic, data, received_at=received_at)
            except ParseError as exc:
                self._event(EventKind.DECODE_FAILED, f"{characteristic} {data.hex()}: {exc}")
                return
            fresh = tuple(r for r in readings if not self._taken(r))
            if fresh:
                self._check_future(fresh, received_at)
                self._sink.readings(fresh)
                self._readings += len(fresh)

        return handle

    def _taken(self, reading: Reading) -> bool:
        """A stored record at or before the mark was downloaded in an earlier session."""
        return (
            self._mark is not None
            and Flag.FROM_STORAGE in reading.flags
            and reading.device_time is not None
            and reading.device_time <= self._mark
        )

    def _check_future(self, readings: tuple[Reading, ...], received_at: datetime) -> None:
        ahead = max(r.measured_at for r in readings) - received_at
        if ahead > self._options.clock_tolerance and not self._skew_reported:
            self._skew_reported = True
            self._event(EventKind.CLOCK_SKEW, f"a reading is stamped {_offset(ahead)}")

    # -- stored records (RACP) ---------------------------------------------------------

    async def _download(self) -> None:
        racp = Characteristic.RECORD_ACCESS_CONTROL_POINT
        await self._link.subscribe(racp, self._racp_handler)
        await self._link.write(racp, encode_racp_request(report_number_of_records()))
        answer = await self._racp_answer()
        if isinstance(answer, RacpNumberOfRecords) and answer.count == 0:
            return
        await self._link.write(racp, encode_racp_request(report_all_records()))
        answer = await self._racp_answer()
        if isinstance(answer, RacpResponse) and answer.succeeded:
            if self._options.delete_after_download:
                await self._link.write(racp, encode_racp_request(delete_all_records()))
                await self._racp_answer()
        elif not (
            isinstance(answer, RacpResponse)
            and answer.response_code is RacpResponseCode.NO_RECORDS_FOUND
        ):
            self._event(EventKind.DOWNLOAD_INCOMPLETE, f"report stored records: {answer}")

    def _racp_handler(self, data: bytes) -> None:
        self._last_value = time.monotonic()
        try:
            self._racp.put_nowait(parse_racp_response(data))
        except ParseError as exc:
            self._event(EventKind.DECODE_FAILED, f"RACP {data.hex()}: {exc}")

    async def _racp_answer(self) -> RacpNumberOfRecords | RacpResponse:
        """The next RACP indication; records arriving meanwhile keep the wait alive, a
        hang-up ends it at once."""
        while not self._racp.empty() or not self._link.disconnected.is_set():
            if not self._racp.empty():
                return self._racp.get_nowait()
            remaining = self._options.gatt_timeout - (time.monotonic() - self._last_value)
            if remaining <= 0:
                raise GattError("no RACP response from the device")
            answer = asyncio.ensure_future(self._racp.get())
            hang_up = asyncio.ensure_future(self._link.disconnected.wait())
            done, _ = await asyncio.wait(
                (answer, hang_up), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            hang_up.cancel()
            answer.cancel()
            if answer in done or (answer.done() and not answer.cancelled()):
                return answer.result()
        raise GattError("the device hung up during a download")

    # -- the clock -------------------------------------------------------------------

    async def _clock_check(self) -> timedelta | None:
        current_time = Characteristic.CURRENT_TIME
        if not (self._profile.sets_clock_via_current_time and self._link.has(current_time)):
            return None
        skew: timedelta | None = None
        try:
            value = parse_current_time(await self._link.read(current_time))
        except ParseError as exc:
            self._event(EventKind.DECODE_FAILED, f"current time: {exc}")
        except GattError as exc:
            if self._link.disconnected.is_set():
                raise
            self._event(EventKind.DEVICE_ERROR, f"reading the clock failed: {exc}")
        else:
            if value.date_time is not None:
                wall = self._clock().astimezone(self._options.device_tz).replace(tzinfo=None)
                skew = value.date_time - wall.replace(microsecond=0)
                if abs(skew) > self._options.clock_tolerance:
                    self._event(
                        EventKind.CLOCK_SKEW, f"device clock is {_offset(skew)}; setting it"
                    )
        if self._options.set_clock:
            now = self._clock()
            data = encode_current_time(current_time_for(now, tz=self._options.device_tz))
            try:
                await self._link.write(current_time, data)
            except GattError as exc:
                if self._link.disconnected.is_set():
                    raise
                self._event(EventKind.DEVICE_ERROR, f"setting the clock failed: {exc}")
                return skew
            if skew is not None and skew > self._options.clock_tolerance:
                # The clock went back: the next records are older than those taken.
                wall = now.astimezone(self._options.device_tz).replace(tzinfo=None)
                self._sink.set_mark(self._device_id, wall)
        return skew

    # -- leaving ---------------------------------------------------------------------

    async def _until_quiet(self) -> None:
        """Wait for the device to hang up, or for ``idle_timeout`` without a value."""
        while not self._link.disconnected.is_set():
            remaining = self._options.idle_timeout - (time.monotonic() - self._last_value)
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._link.disconnected.wait()
            except TimeoutError:
                continue


def _offset(delta: timedelta) -> str:
    """``2:00:00 behind`` / ``0:05:00 ahead``: a clock offset in whole seconds."""
    seconds = round(abs(delta.total_seconds()))
    return f"{timedelta(seconds=seconds)} {'behind' if delta < timedelta(0) else 'ahead'}"
