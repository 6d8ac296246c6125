"""A simulated device model's hardware, and what one unit of it is at power-on.

Both simulated devices start the same way: an identity (address, Device Information)
from the household's seed, a wall clock set to the household's time (or unset in the
``clock_unset`` scenario), and a battery charge drawn from the model's range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from devices.simulator.identity import Identity, identity_for
from devices.simulator.physiology import Physiology
from devices.simulator.randomness import seeded, whole
from devices.simulator.wall_clock import WallClock, wall_time


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerOn:
    """One unit as it comes out of the box: who it says it is, its clock, its charge."""

    identity: Identity
    clock: WallClock
    battery_percent: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Hardware:
    """A device model: Device Information strings and the charge a unit starts with."""

    model: str
    serial_prefix: str
    hardware_revision: str
    firmware_revision: str
    battery_at_power_on: tuple[int, int]  # percent, inclusive range

    def power_on(
        self, physiology: Physiology, *, device_tz: tzinfo, clock_drift_ppm: float
    ) -> PowerOn:
        """The unit of this model in the household of ``physiology``, at its anchor."""
        seed, anchor = physiology.seed, physiology.anchor
        charge = seeded(f"{seed}/{self.model}/battery")
        return PowerOn(
            identity=identity_for(
                seed,
                model=self.model,
                serial_prefix=self.serial_prefix,
                hardware_revision=self.hardware_revision,
                firmware_revision=self.firmware_revision,
            ),
            clock=WallClock(
                # Set on a whole second, so the clock shows exactly the wall time of any
                # whole-second instant, before power-on too (history.py).
                powered_on=anchor.replace(microsecond=0),
                wall=None if physiology.profile.clock_unset else wall_time(anchor, tz=device_tz),
                drift_ppm=clock_drift_ppm,
            ),
            battery_percent=whole(charge, *self.battery_at_power_on),
        )
