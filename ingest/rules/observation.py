"""What a rule sees of a reading: the reading, whose it is, and when it arrived.

Flags sort readings for the rules (reference: the Flag sources in devices/reading.py):

    UNRELIABLE  the device says the value is not a measurement to trust (signal, sensor or
                probe trouble, still measuring, demonstration or test data): never alerts
    DISTURBED   the cuff measured, but the patient moved, the cuff sat loose or badly:
                a spot reading raises at most RuleSettings.disturbed_at_most
    everything else (irregular pulse, from storage, receive time ...) is neutral here

A reading alerts only with a value in its kind's unit: a value sent in kPa is judged in
mmHg (devices.reading.MMHG_PER_KPA); a reading with an absent value never alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from devices.reading import KIND_CODES, MMHG_PER_KPA, Flag, Kind, Reading, Unit
from ingest.rules.settings import RuleSettings

UNRELIABLE_FLAGS = frozenset(
    {
        # PLX Measurement Status (PLXS 1.0.1): not a finished, real measurement.
        Flag.MEASUREMENT_ONGOING,
        Flag.EARLY_ESTIMATE,
        Flag.DEMONSTRATION,
        Flag.TESTING,
        Flag.CALIBRATION_ONGOING,
        Flag.MEASUREMENT_UNAVAILABLE,
        Flag.QUESTIONABLE,
        Flag.INVALID,
        # PLX Device and Sensor Status: the signal or the sensor is in doubt.
        Flag.EQUIPMENT_MALFUNCTION,
        Flag.SIGNAL_PROCESSING_IRREGULARITY,
        Flag.INADEQUATE_SIGNAL,
        Flag.POOR_SIGNAL,
        Flag.LOW_PERFUSION,
        Flag.ERRATIC_SIGNAL,
        Flag.NONPULSATILE_SIGNAL,
        Flag.QUESTIONABLE_PULSE,
        Flag.SIGNAL_ANALYSIS_ONGOING,
        Flag.SENSOR_INTERFERENCE,
        Flag.SENSOR_UNCONNECTED,
        Flag.UNKNOWN_SENSOR,
        Flag.SENSOR_DISPLACED,
        Flag.SENSOR_MALFUNCTION,
        Flag.SENSOR_DISCONNECTED,
        # BerryMed BCI stream: no finger, probe out, still searching for the pulse.
        Flag.PROBE_UNPLUGGED,
        Flag.NO_FINGER,
        Flag.PULSE_SEARCH,
    }
)
# Blood Pressure Measurement Status bits 0, 1 and 5 (GSS blood_pressure_measurement.yaml).
DISTURBED_FLAGS = frozenset({Flag.BODY_MOVEMENT, Flag.CUFF_TOO_LOOSE, Flag.IMPROPER_POSITION})

# Factors from a reading's unit to its kind's unit, when they differ.
UNIT_FACTORS: MappingProxyType[tuple[Unit, Unit], float] = MappingProxyType(
    {(Unit.KPA, Unit.MMHG): MMHG_PER_KPA}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """A stored reading with its patient (None: not attributed) and its arrival."""

    reading: Reading
    patient_id: int | None
    gateway_id: str
    received_at: datetime

    def __post_init__(self) -> None:
        if self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")

    @property
    def usable(self) -> bool:
        """A value the device vouches for: present and not flagged unreliable."""
        return self.reading.value is not None and not self.reading.flags & UNRELIABLE_FLAGS

    def is_late(self, settings: RuleSettings) -> bool:
        return self.received_at - self.reading.measured_at > settings.late_after


def value_in_kind_unit(reading: Reading) -> float | None:
    """The reading's value in the unit its kind's thresholds use; None if it has none."""
    return in_kind_unit(reading.value, reading.unit, reading.kind)


def in_kind_unit(value: float | None, unit: Unit, kind: Kind) -> float | None:
    """``value`` in ``unit`` converted to ``kind``'s unit; None when absent or unknown."""
    if value is None:
        return None
    target = KIND_CODES[kind].unit
    if unit is target:
        return value
    factor = UNIT_FACTORS.get((unit, target))
    return None if factor is None else value * factor
