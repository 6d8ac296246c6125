"""A simulated Blood Pressure Service 1.0 cuff, Omron/A&D style.

How such a cuff behaves (../shared/reference/ble.md 2.3): it measures on its own, with
no connection, stamping each result with its wall clock; once a bonded collector
subscribes to 0x2A35 it indicates every stored, unsent record and forgets them as sent
(derdilla docs: Omron X4 Smart "deletes after transfer"; A&D sends "only unsent
records"). There is no RACP in BLS 1.0. While the cuff inflates and deflates it may
notify the live pressure on 0x2A36. The collector writes Current Time to set its clock.

Everything is driven by explicit times (``now``): the monitor never reads the real
clock. The bytes come from ``devices.blood_pressure``'s encoders, so they are exactly
what the gateway's parsers read.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime, timedelta, tzinfo
from types import MappingProxyType

from devices.battery import encode_battery_level
from devices.blood_pressure import (
    BloodPressureCapability,
    BloodPressureFeature,
    BloodPressureMeasurement,
    Timestamp,
    encode_blood_pressure_feature,
    encode_blood_pressure_measurement,
    encode_intermediate_cuff_pressure,
)
from devices.ieee11073 import Number
from devices.reading import MMHG_PER_KPA, AbsentReason, Flag, Unit
from devices.simulator.hardware import Hardware
from devices.simulator.identity import Identity
from devices.simulator.physiology import Physiology, mean_arterial_pressure

# What the simulated cuff detects (0x2A49): the Omron-style trio.
FEATURE = BloodPressureFeature(
    supported=frozenset(
        {
            BloodPressureCapability.BODY_MOVEMENT_DETECTION,
            BloodPressureCapability.CUFF_FIT_DETECTION,
            BloodPressureCapability.IRREGULAR_PULSE_DETECTION,
        }
    )
)

MODEL = "SIM-BP1"
HARDWARE = Hardware(
    model=MODEL,
    serial_prefix="BP",
    hardware_revision="A",
    firmware_revision="1.0.0",
    battery_at_power_on=(70, 100),  # percent (model choice)
)

# Records a cuff keeps per user; Omron home monitors hold 60-100 (model choice: 100).
CAPACITY = 100

# The cuff cycle (model choice, typical of oscillometric upper-arm cuffs): inflate at
# 10 mmHg/s to 30 mmHg above systolic, rounded up to 10 mmHg; deflate at 4 mmHg/s to
# 15 mmHg below diastolic, then exhaust. One 0x2A36 notification per second.
_INFLATE_RATE = 10.0  # mmHg/s
_INFLATION_MARGIN = 30.0  # mmHg above systolic
_INFLATION_STEP = 10.0  # mmHg, the target is rounded up to this
_DEFLATE_RATE = 4.0  # mmHg/s
_EXHAUST_BELOW = 15.0  # mmHg below diastolic
_NOTIFY_EVERY = timedelta(seconds=1)

# Battery (charge at power-on: HARDWARE): 1 % used per so many measurements (the pump
# draws almost all the current).
_MEASUREMENTS_PER_PERCENT = 5

_KPA_DECIMALS = 1  # kPa cuffs show one decimal (A&D example 17.6 kPa, ble.md 1.3)


class SimulatedBloodPressureMonitor:
    """One cuff, measuring the patient modelled by ``physiology``.

    ``unit`` is the unit the cuff sends (mmHg, or kPa as some European models do);
    ``user_id`` is the user button the patient presses (None: the cuff sends none).
    The clock starts set to ``device_tz`` wall time at ``physiology.anchor`` (power-on),
    or unset in the ``clock_unset`` scenario.
    """

    __slots__ = (
        "_battery_at_power_on",
        "_measurements",
        "_memory",
        "_unsent",
        "clock",
        "identity",
        "physiology",
        "unit",
        "user_id",
    )

    def __init__(
        self,
        physiology: Physiology,
        *,
        unit: Unit = Unit.MMHG,
        user_id: int | None = 1,
        device_tz: tzinfo = UTC,
        clock_drift_ppm: float = 0.0,
    ) -> None:
        if unit not in (Unit.MMHG, Unit.KPA):
            raise ValueError(f"a cuff sends mm[Hg] or kPa, not {unit}")
        self.physiology = physiology
        self.unit = unit
        self.user_id = user_id
        box = HARDWARE.power_on(physiology, device_tz=device_tz, clock_drift_ppm=clock_drift_ppm)
        self.identity: Identity = box.identity
        self.clock = box.clock
        self._battery_at_power_on = box.battery_percent
        self._measurements = 0
        self._memory: deque[BloodPressureMeasurement] = deque(maxlen=CAPACITY)
        self._unsent: deque[BloodPressureMeasurement] = deque(maxlen=CAPACITY)

    @property
    def address(self) -> str:
        return self.identity.address

    @property
    def stored(self) -> tuple[BloodPressureMeasurement, ...]:
        """Every record in memory, sent or not, oldest first."""
        return tuple(self._memory)

    @property
    def unsent(self) -> tuple[BloodPressureMeasurement, ...]:
        """The records the next subscription will indicate, oldest first."""
        return tuple(self._unsent)

    # -- measuring -------------------------------------------------------------------

    def measure(self, now: datetime) -> BloodPressureMeasurement:
        """Take a measurement that finishes at ``now``, store it as unsent, return it."""
        index = self._measurements
        self._measurements += 1
        record = self._record(now, index=index, physiology=self.physiology)
        self._memory.append(record)
        self._unsent.append(record)
        return record

    def remember(self, at: datetime, *, physiology: Physiology) -> BloodPressureMeasurement:
        """Store, unsent, a record the cuff took at ``at`` before it was switched on, of the
        patient as ``physiology`` then was (household.py). Which such records a movement
        disturbed or a failure spoiled follows the minute of ``at``, not a count, so the
        same moment always gives the same record. Call before ``measure``, oldest first."""
        if self._measurements:
            raise ValueError("earlier records go in before the first measurement")
        record = self._record(at, index=_minute(at), physiology=physiology)
        self._memory.append(record)
        self._unsent.append(record)
        return record

    def _record(
        self, now: datetime, *, index: int, physiology: Physiology
    ) -> BloodPressureMeasurement:
        profile = physiology.profile
        status: frozenset[Flag] = frozenset()
        if profile.failure is not None and index % profile.failure.cuff_every == 0:
            # A failed inflation: the cuff sends the record with NaN in every value.
            systolic: Number = AbsentReason.NOT_A_NUMBER
            diastolic: Number = AbsentReason.NOT_A_NUMBER
            mean: Number = AbsentReason.NOT_A_NUMBER
            pulse: Number = AbsentReason.NOT_A_NUMBER
        else:
            bp = physiology.blood_pressure(now)
            whole_systolic, whole_diastolic = round(bp.systolic), round(bp.diastolic)
            if profile.motion is not None and index % profile.motion.cuff_every == 0:
                error = profile.motion.cuff_systolic_error.at(physiology.uniform("cuff_error", now))
                whole_systolic += round(error)
                status = frozenset({Flag.BODY_MOVEMENT})
            systolic = self._pressure(whole_systolic)
            diastolic = self._pressure(whole_diastolic)
            mean = self._pressure(round(mean_arterial_pressure(whole_systolic, whole_diastolic)))
            pulse = float(round(bp.pulse_rate))
        return BloodPressureMeasurement(
            systolic=systolic,
            diastolic=diastolic,
            mean_arterial_pressure=mean,
            unit=self.unit,
            timestamp=self._timestamp(now),
            pulse_rate=pulse,
            user_id=self.user_id,
            status=status,
        )

    def intermediate_cuff_pressures(self, now: datetime) -> list[tuple[datetime, bytes]]:
        """The 0x2A36 notifications of the cuff cycle of a measurement finishing at
        ``now``: (time, bytes), one a second, all before ``now``."""
        bp = self.physiology.blood_pressure(now)
        target = math.ceil((bp.systolic + _INFLATION_MARGIN) / _INFLATION_STEP) * _INFLATION_STEP
        inflating = [min(target, _INFLATE_RATE * step) for step in range(1, 1 + _steps(target))]
        exhaust_at = bp.diastolic - _EXHAUST_BELOW
        deflating = [
            target - _DEFLATE_RATE * step
            for step in range(1, 1 + _steps(target - exhaust_at, rate=_DEFLATE_RATE))
        ]
        pressures = inflating + deflating
        start = now - _NOTIFY_EVERY * len(pressures)
        return [
            (
                start + _NOTIFY_EVERY * i,
                encode_intermediate_cuff_pressure(
                    BloodPressureMeasurement(
                        systolic=self._pressure(round(pressure)),
                        # GSS intermediate_cuff_pressure.yaml: diastolic and MAP are NaN.
                        diastolic=AbsentReason.NOT_A_NUMBER,
                        mean_arterial_pressure=AbsentReason.NOT_A_NUMBER,
                        unit=self.unit,
                        user_id=self.user_id,
                    )
                ),
            )
            for i, pressure in enumerate(pressures)
        ]

    def _pressure(self, mmhg: int) -> float:
        if self.unit is Unit.KPA:
            return round(mmhg / MMHG_PER_KPA, _KPA_DECIMALS)
        return float(mmhg)

    def _timestamp(self, now: datetime) -> datetime | Timestamp:
        # An unset BLS cuff sends the Time Stamp as "unknown" (year 0).
        return self.clock.read(now) if self.clock.is_set else Timestamp.UNKNOWN

    # -- what a collector sees -------------------------------------------------------

    def pending_indications(self) -> list[bytes]:
        """Subscribe to 0x2A35: the unsent records as indications, oldest first; they
        count as sent afterwards (they stay in ``stored``)."""
        indications = [encode_blood_pressure_measurement(record) for record in self._unsent]
        self._unsent.clear()
        return indications

    def feature(self) -> bytes:
        """Read 0x2A49."""
        return encode_blood_pressure_feature(FEATURE)

    def battery_level(self) -> bytes:
        """Read 0x2A19."""
        used = self._measurements // _MEASUREMENTS_PER_PERCENT
        return encode_battery_level(max(0, self._battery_at_power_on - used))

    def device_information(self) -> MappingProxyType[int, bytes]:
        """Read the 0x180A strings: UUID -> bytes."""
        return self.identity.device_information()

    def write_current_time(self, data: bytes, *, now: datetime) -> None:
        """A collector writes Current Time (0x2A2B) at ``now``: the clock is set.
        ParseError for bytes the device refuses."""
        self.clock.write_current_time(data, now=now)


def _minute(at: datetime) -> int:
    return math.floor(at.timestamp()) // 60


def _steps(span: float, *, rate: float = _INFLATE_RATE) -> int:
    """How many one-second steps cover ``span`` mmHg at ``rate`` mmHg/s."""
    return max(1, math.ceil(span / rate))
