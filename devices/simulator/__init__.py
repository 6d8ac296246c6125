"""Simulated devices: a seeded patient, a blood-pressure cuff and a pulse oximeter that
send spec-exact GATT bytes, for the demo, the gateway's simulate mode and benchmarks.

    physiology.py              Physiology: the patient as a pure function of time
    scenario.py                Scenario, SCENARIOS: what the household goes through
    blood_pressure_monitor.py  SimulatedBloodPressureMonitor: a BLS 1.0 cuff
    pulse_oximeter.py          SimulatedPulseOximeter: PLXS spot-checks, RACP, 1 Hz stream
    history.py                 Routine: what the devices stored before they were switched on
    household.py               household(...): both devices as one time-ordered event stream

Standard library only (``random.Random``), like the rest of ``devices``.
"""

from __future__ import annotations

from devices.simulator.blood_pressure_monitor import SimulatedBloodPressureMonitor
from devices.simulator.history import Routine
from devices.simulator.household import Event, Household, Schedule, household
from devices.simulator.physiology import Baseline, BloodPressure, OximetrySample, Physiology
from devices.simulator.pulse_oximeter import SimulatedPulseOximeter
from devices.simulator.scenario import SCENARIOS, Profile, Scenario, ScenarioSpec, combine
from devices.simulator.wall_clock import WallClock

__all__ = [
    "SCENARIOS",
    "Baseline",
    "BloodPressure",
    "Event",
    "Household",
    "OximetrySample",
    "Physiology",
    "Profile",
    "Routine",
    "Scenario",
    "ScenarioSpec",
    "Schedule",
    "SimulatedBloodPressureMonitor",
    "SimulatedPulseOximeter",
    "WallClock",
    "combine",
    "household",
]
