"""A simulated household: one patient, one cuff, one oximeter, as a stream of GATT events.

``household(...)`` yields what a gateway in the home would receive, in time order:
``Event(at, address, characteristic, data)``, where ``characteristic`` is the 16-bit SIG
UUID (a ``devices.uuids.Characteristic``) and ``data`` the value's exact bytes. The
demo, the gateway's simulate mode and the benchmarks feed these to ``devices``' parsers.

What happens, with the times of ``Schedule``:

- at the start the gateway connects to both devices and reads Device Information,
  the feature characteristics and the battery;
- the cuff measures at ``blood_pressure_first`` and every ``blood_pressure_every`` after:
  live cuff pressure (0x2A36) while it runs, then, ``connect_after`` later, the gateway
  connects, reads the battery and subscribes, and the cuff indicates its unsent records
  (0x2A35);
- the oximeter streams 0x2A5F at 1 Hz (``continuous``) and takes a spot-check at
  ``spot_check_first`` and every ``spot_check_every``; ``download_after`` later the gateway
  downloads storage over RACP (0x2A52: count, report all, delete all) and the records
  arrive as 0x2A5E with the "from measurement storage" bit.

The gateway writes no Current Time here, so a ``clock_unset`` household stays unset.

With a ``Routine`` (history.py) the devices come with records in memory: the cuff
indicates them with its first measurement, the oximeter reports them in the first
download. They show the patient before the start: scenarios that began then
(``ScenarioSpec.began_at_start``: a crisis, a desaturating COPD) are not in them. A
``clock_unset`` household has none (its clock was reset, and its memory with it).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

from devices.racp import (
    delete_all_records,
    encode_racp_request,
    report_all_records,
    report_number_of_records,
)
from devices.simulator.blood_pressure_monitor import SimulatedBloodPressureMonitor
from devices.simulator.history import Routine, measurement_times
from devices.simulator.physiology import Physiology
from devices.simulator.pulse_oximeter import SAMPLE_INTERVAL, SimulatedPulseOximeter
from devices.simulator.scenario import Scenario, before_start
from devices.uuids import Characteristic

# The longest cuff cycle (inflate to 270 mmHg, deflate to 0) takes about 95 s: a
# measurement must be over before the next one starts.
_SHORTEST_CUFF_INTERVAL = timedelta(minutes=2)


class Event(NamedTuple):
    """One value a device sent (or returned to a read). A tuple, so a caller may unpack
    ``for at, address, characteristic, data in household(...)``."""

    at: datetime
    address: str
    characteristic: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """When the household measures and when the gateway collects.

    The defaults follow Danish home-monitoring practice for the cuff (morning and
    evening, clinical.md 5.1/5.5) and an hourly spot-check; a demo shortens them.
    """

    blood_pressure_first: timedelta = timedelta(minutes=1)
    blood_pressure_every: timedelta = timedelta(hours=12)
    spot_check_first: timedelta = timedelta(minutes=5)
    spot_check_every: timedelta = timedelta(hours=1)
    connect_after: timedelta = timedelta(seconds=5)
    download_after: timedelta = timedelta(seconds=30)
    continuous: bool = True

    def __post_init__(self) -> None:
        if self.blood_pressure_every < _SHORTEST_CUFF_INTERVAL:
            raise ValueError(f"cuff measurements need at least {_SHORTEST_CUFF_INTERVAL} apart")
        if not timedelta(0) <= self.connect_after < self.blood_pressure_every:
            raise ValueError("the gateway connects after one measurement, before the next")
        if not timedelta(0) <= self.download_after < self.spot_check_every:
            raise ValueError("the gateway downloads after one spot-check, before the next")
        if min(self.blood_pressure_first, self.spot_check_first) < timedelta(0):
            raise ValueError("measurements start at or after the start")


class Household:
    """The patient and both devices. ``start`` is when the scenario starts and the
    devices are switched on; ``tz`` is the household's zone (circadian rhythm, device
    clocks, the local times of ``history``); ``history`` is what the devices hold in
    memory at the start (see the module docstring)."""

    __slots__ = ("monitor", "oximeter", "physiology", "start")

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        scenarios: Scenario | Iterable[Scenario] = Scenario.NORMAL,
        tz: tzinfo = UTC,
        history: Routine | None = None,
    ) -> None:
        self.start = start
        self.physiology = Physiology(seed=seed, scenarios=scenarios, anchor=start, tz=tz)
        self.monitor = SimulatedBloodPressureMonitor(self.physiology, device_tz=tz)
        self.oximeter = SimulatedPulseOximeter(self.physiology, device_tz=tz)
        if history is not None and not self.physiology.profile.clock_unset:
            self._remember(history, scenarios=scenarios, tz=tz)

    def _remember(
        self, history: Routine, *, scenarios: Scenario | Iterable[Scenario], tz: tzinfo
    ) -> None:
        seed, until = self.physiology.seed, min(history.until or self.start, self.start)
        before = Physiology(seed=seed, scenarios=before_start(scenarios), anchor=self.start, tz=tz)
        for at in measurement_times(
            history, history.blood_pressure, seed=seed, stream="cuff", until=until, tz=tz
        ):
            self.monitor.remember(at, physiology=before)
        for at in measurement_times(
            history, history.spot_checks, seed=seed, stream="spot_check", until=until, tz=tz
        ):
            self.oximeter.remember(at, physiology=before)

    def events(self, duration: timedelta, *, schedule: Schedule | None = None) -> Iterator[Event]:
        """Everything the devices send from ``start`` for ``duration``, in time order."""
        plan = Schedule() if schedule is None else schedule
        end = self.start + duration
        streams = [self._connect(), self._cuff(plan, end), self._spot_checks(plan, end)]
        if plan.continuous:
            streams.append(self._continuous(duration))
        return heapq.merge(*streams, key=lambda event: event.at)

    def _connect(self) -> Iterator[Event]:
        for address, reads in (
            (
                self.monitor.address,
                {
                    **self.monitor.device_information(),
                    Characteristic.BLOOD_PRESSURE_FEATURE: self.monitor.feature(),
                    Characteristic.BATTERY_LEVEL: self.monitor.battery_level(),
                },
            ),
            (
                self.oximeter.address,
                {
                    **self.oximeter.device_information(),
                    Characteristic.PLX_FEATURES: self.oximeter.features(),
                    Characteristic.BATTERY_LEVEL: self.oximeter.battery_level(),
                },
            ),
        ):
            for characteristic, data in reads.items():
                yield Event(self.start, address, characteristic, data)

    def _cuff(self, plan: Schedule, end: datetime) -> Iterator[Event]:
        address = self.monitor.address
        for finish in _times(
            self.start + plan.blood_pressure_first, plan.blood_pressure_every, end
        ):
            for at, data in self.monitor.intermediate_cuff_pressures(finish):
                if at >= self.start:
                    yield Event(at, address, Characteristic.INTERMEDIATE_CUFF_PRESSURE, data)
            self.monitor.measure(finish)
            connected = finish + plan.connect_after
            if connected >= end:
                return
            yield Event(
                connected, address, Characteristic.BATTERY_LEVEL, self.monitor.battery_level()
            )
            for data in self.monitor.pending_indications():
                yield Event(connected, address, Characteristic.BLOOD_PRESSURE_MEASUREMENT, data)

    def _spot_checks(self, plan: Schedule, end: datetime) -> Iterator[Event]:
        address = self.oximeter.address
        dialogue = (report_number_of_records(), report_all_records(), delete_all_records())
        for at in _times(self.start + plan.spot_check_first, plan.spot_check_every, end):
            self.oximeter.spot_check(at)
            download = at + plan.download_after
            if download >= end:
                return
            for request in dialogue:
                for characteristic, data in self.oximeter.write_racp(encode_racp_request(request)):
                    yield Event(download, address, characteristic, data)

    def _continuous(self, duration: timedelta) -> Iterator[Event]:
        address = self.oximeter.address
        seconds = int(duration / SAMPLE_INTERVAL)
        for at, data in self.oximeter.continuous_samples(self.start, seconds):
            yield Event(at, address, Characteristic.PLX_CONTINUOUS_MEASUREMENT, data)


def household(
    *,
    seed: int,
    start: datetime,
    duration: timedelta,
    scenarios: Scenario | Iterable[Scenario] = Scenario.NORMAL,
    schedule: Schedule | None = None,
    tz: tzinfo = UTC,
    history: Routine | None = None,
) -> Iterator[Event]:
    """The events of a fresh household with ``seed`` under ``scenarios``, from ``start``
    for ``duration`` (see the module docstring). Same arguments, same bytes."""
    home = Household(seed=seed, start=start, scenarios=scenarios, tz=tz, history=history)
    return home.events(duration, schedule=schedule)


def _times(first: datetime, every: timedelta, end: datetime) -> Iterator[datetime]:
    at = first
    while at < end:
        yield at
        at += every
