"""Simulated devices instead of Bluetooth: ``telecare gateway run --simulate``.

Each simulated household (``devices.simulator.household``: one cuff, one oximeter with a
1 Hz stream, spot-checks downloaded over RACP) plays its GATT values in real time, or
``speed`` times faster; every value goes through the same ``devices`` decoder and the
same outbox, publisher and status as BLE readings, so a simulated gateway exercises
everything but the radio. Households are seeded, so a demo shows the same patients
every time. Each household goes through the options' ``scenarios``, or its own entry of
``household_scenarios``; with a ``history`` its devices come with the records of the
days before (devices.simulator.history), collected on the first connection.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from devices import Decoder, ParseError
from devices.battery import parse_battery_level
from devices.decoder import READING_DECODERS
from devices.device_information import DeviceInformationString, device_information_from
from devices.simulator.history import Routine
from devices.simulator.household import Event, Household, Schedule
from devices.simulator.scenario import Scenario
from devices.uuids import Characteristic
from gateway.ble import Sighting
from gateway.event import EventKind
from gateway.service import Collector, CollectorFactory, Gateway

_INFORMATION = frozenset(DeviceInformationString)

# How long a simulation runs at most: a year of simulated time.
HORIZON = timedelta(days=365)
# The RSSI simulated devices are heard with (a device in the same room).
SIMULATED_RSSI = -55
# A demo schedule: a cuff reading every 10 minutes, a spot-check every 5, the stream always.
DEMO_SCHEDULE = Schedule(
    blood_pressure_first=timedelta(seconds=20),
    blood_pressure_every=timedelta(minutes=10),
    spot_check_first=timedelta(seconds=40),
    spot_check_every=timedelta(minutes=5),
    connect_after=timedelta(seconds=5),
    download_after=timedelta(seconds=10),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationOptions:
    households: int = 1
    seed: int = 1
    speed: float = 1.0
    scenarios: tuple[Scenario, ...] = (Scenario.NORMAL,)
    # One entry per household (empty: every household goes through ``scenarios``).
    household_scenarios: tuple[tuple[Scenario, ...], ...] = ()
    schedule: Schedule = DEMO_SCHEDULE
    history: Routine | None = None

    def __post_init__(self) -> None:
        if self.households < 1:
            raise ValueError(f"households must be at least 1, got {self.households}")
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")
        if self.household_scenarios and len(self.household_scenarios) != self.households:
            raise ValueError(
                f"{len(self.household_scenarios)} households' scenarios for "
                f"{self.households} households"
            )

    def scenarios_of(self, index: int) -> tuple[Scenario, ...]:
        """What household ``index`` (0-based) goes through."""
        return self.household_scenarios[index] if self.household_scenarios else self.scenarios


class SimulatedCollector:
    """Plays simulated households into a gateway."""

    def __init__(self, gateway: Gateway, options: SimulationOptions) -> None:
        self._gateway = gateway
        self._options = options
        self._decoders: dict[str, Decoder] = {}
        # Device Information values read at connect, per device: uuid -> bytes.
        self._information: dict[str, dict[int, bytes]] = {}

    async def run(self) -> None:
        start = self._gateway.clock()
        began = time.monotonic()
        speed = self._options.speed
        for event in self._events():
            lag = (event.at - start).total_seconds() / speed - (time.monotonic() - began)
            if lag > 0:
                await asyncio.sleep(lag)
            self._play(event)

    def _events(self) -> Iterator[Event]:
        options = self._options
        tz = self._gateway.settings.device_tz
        streams = []
        for index in range(options.households):
            home = Household(
                seed=options.seed + index,
                start=self._gateway.clock(),
                scenarios=options.scenarios_of(index),
                tz=tz,
                history=options.history,
            )
            for address in (home.monitor.address, home.oximeter.address):
                self._decoders[address] = Decoder(device_id=address, device_tz=tz)
                self._gateway.seen(
                    Sighting(
                        device_id=address,
                        name=None,
                        rssi=SIMULATED_RSSI,
                        at=self._gateway.clock(),
                        profile=None,
                    )
                )
            streams.append(home.events(HORIZON, schedule=options.schedule))
        return heapq.merge(*streams, key=lambda event: event.at)

    def _play(self, event: Event) -> None:
        gateway = self._gateway
        address, characteristic, data = event.address, event.characteristic, event.data
        try:
            if characteristic in READING_DECODERS:
                readings = self._decoders[address].decode(
                    characteristic, data, received_at=event.at
                )
                if readings:
                    gateway.readings(readings)
            elif characteristic == Characteristic.BATTERY_LEVEL:
                information = device_information_from(self._information.get(address, {}))
                gateway.inventory.visited(
                    address,
                    at=event.at,
                    battery=parse_battery_level(data),
                    firmware=information.firmware_revision,
                    model=information.model,
                    serial=information.serial,
                )
            elif characteristic in _INFORMATION:
                self._information.setdefault(address, {})[characteristic] = data
        except ParseError as exc:
            gateway.report(EventKind.DECODE_FAILED, f"{characteristic:04x}: {exc}", address)


def simulated(options: SimulationOptions) -> CollectorFactory:
    """The collector factory ``Gateway`` takes, for simulated households."""

    def make(gateway: Gateway) -> Collector:
        return SimulatedCollector(gateway, options)

    return make
