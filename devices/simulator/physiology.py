"""A seeded model of one patient's blood pressure, pulse and oxygen saturation.

Every value is a pure function of (seed, scenarios, anchor, time): the model keeps no
running state, so the same seed and the same clock give the same numbers in any order,
and a 1 Hz stream can be cut anywhere and resumed. Randomness comes from
``random.Random`` seeded with text keys (``randomness.py``), one block of draws per
stream and 64 seconds.

The shape of the model (a modelling choice, kept plain on purpose):

- a baseline per patient, drawn from the scenario's spans (``scenario.py``);
- a circadian term, lowest in the small hours and highest in the afternoon (the
  "dipper" pattern of a nocturnal fall);
- slow drift for the oximeter: a sum of three sines of 7, 23 and 61 minutes with seeded
  phases, so consecutive 1 Hz samples differ by a fraction of a percent;
- white measurement noise per second, clamped at three standard deviations;
- diastolic = systolic - pulse pressure, where pulse pressure widens as systolic rises,
  and MAP = diastolic + (systolic - diastolic) / 3 (the usual oscillometric estimate);
- scenario events on top: desaturation episodes, motion dips, probe-off windows.

The model returns unrounded physiology; the simulated devices quantize it as real devices
do (whole mmHg, whole percent) and decide how failures look on the wire.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from devices.simulator.randomness import seeded, standard_normal
from devices.simulator.scenario import Profile, Scenario, Span, combine

# Draws per cached block: one block per stream and 64 seconds of simulated time.
_BLOCK = 64
# Gaussian noise is clamped here (in standard deviations) so limits hold with margin.
_NOISE_CLAMP = 3.0

# Circadian term: a cosine lowest at 03:00 local time, amplitude per quantity (model
# choice: systolic about 10 % lower asleep than at the daytime peak, the "dipper" pattern).
_CIRCADIAN_TROUGH_HOUR = 3.0
_CIRCADIAN_SYSTOLIC = 6.0  # mmHg
_CIRCADIAN_PULSE = 5.0  # /min

# Cuff measurement noise (standard deviations) and the pulse-pressure relation.
_SYSTOLIC_SD = 4.0  # mmHg
_PULSE_PRESSURE_SD = 2.0  # mmHg
_PULSE_PRESSURE_SLOPE = 0.4  # mmHg of pulse pressure per mmHg systolic above baseline

# Oximeter: slow drift amplitudes, per-second noise, and the drift's components.
_DRIFT_PERIODS = ((420.0, 0.5), (1380.0, 0.3), (3660.0, 0.2))  # (seconds, weight)
_SPO2_DRIFT = 1.0  # %
_SPO2_SD = 0.35  # %
_PLATEAU_SD = 0.6  # % around the nadir during a desaturation plateau
_SPO2_FLOOR = 70.0  # % no modelled value goes below this
_PULSE_DRIFT = 4.0  # /min
_PULSE_SD = 1.0  # /min
_PERFUSION_DRIFT = 0.15  # relative
_PERFUSION_SD = 0.05  # % absolute
_PERFUSION_LIMITS = Span(0.2, 20.0)  # % the range oximeters report a pulse amplitude index in


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """One simulated patient at rest, at the daily mean."""

    systolic: float
    pulse_pressure: float
    pulse_rate: float
    spo2: float
    perfusion_index: float

    @property
    def diastolic(self) -> float:
        return self.systolic - self.pulse_pressure


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodPressure:
    """What an ideal cuff would measure at one instant (mmHg, /min)."""

    systolic: float
    diastolic: float
    pulse_rate: float

    def __post_init__(self) -> None:
        if not self.diastolic < self.systolic:
            raise ValueError(f"diastolic {self.diastolic} must lie below systolic {self.systolic}")

    @property
    def mean_arterial_pressure(self) -> float:
        return mean_arterial_pressure(self.systolic, self.diastolic)

    @property
    def pulse_pressure(self) -> float:
        return self.systolic - self.diastolic


@dataclass(frozen=True, slots=True, kw_only=True)
class OximetrySample:
    """One second at the oximeter probe.

    ``artefact`` marks a motion dip (the values are wrong and a real oximeter flags
    them); ``probe_off`` marks a second with no finger in the probe (no values at all).
    """

    spo2: float
    pulse_rate: float
    perfusion_index: float
    artefact: bool = False
    probe_off: bool = False


def mean_arterial_pressure(systolic: float, diastolic: float) -> float:
    """MAP ~ diastolic + pulse pressure / 3."""
    return diastolic + (systolic - diastolic) / 3


@lru_cache(maxsize=4096)
def _gauss_block(key: str) -> tuple[float, ...]:
    rng = seeded(key)
    return tuple(max(-_NOISE_CLAMP, min(_NOISE_CLAMP, standard_normal(rng))) for _ in range(_BLOCK))


@lru_cache(maxsize=4096)
def _uniform_block(key: str) -> tuple[float, ...]:
    rng = seeded(key)
    return tuple(rng.random() for _ in range(_BLOCK))


class Physiology:
    """One patient under one or more scenarios, queried at any time."""

    __slots__ = ("_anchor_second", "_phases", "anchor", "baseline", "profile", "seed", "tz")

    def __init__(
        self,
        *,
        seed: int,
        scenarios: Scenario | Iterable[Scenario] = Scenario.NORMAL,
        anchor: datetime,
        tz: tzinfo = UTC,
    ) -> None:
        """``anchor`` is when the scenario starts (episodes count from it); ``tz`` is the
        patient's local zone, which places the circadian peak."""
        if anchor.tzinfo is None:
            raise ValueError("anchor must be timezone-aware")
        self.seed = seed
        self.profile: Profile = combine(scenarios)
        self.anchor = anchor
        self.tz = tz
        self._anchor_second = _second(anchor)
        rng = seeded(f"{seed}/baseline")
        haemo, oxi = self.profile.haemodynamics, self.profile.oximetry
        self.baseline = Baseline(
            systolic=haemo.systolic_baseline.at(rng.random()),
            pulse_pressure=haemo.pulse_pressure_baseline.at(rng.random()),
            pulse_rate=haemo.pulse_rate_baseline.at(rng.random()),
            spo2=oxi.spo2_baseline.at(rng.random()),
            perfusion_index=oxi.perfusion_index_baseline.at(rng.random()),
        )
        phases = seeded(f"{seed}/phases")
        self._phases = {
            stream: tuple(2 * math.pi * phases.random() for _ in _DRIFT_PERIODS)
            for stream in ("spo2", "pulse", "perfusion")
        }

    # -- building blocks -------------------------------------------------------------

    def _gauss(self, stream: str, second: int) -> float:
        block, index = divmod(second, _BLOCK)
        return _gauss_block(f"{self.seed}/{stream}/{block}")[index]

    def _uniform(self, stream: str, second: int) -> float:
        block, index = divmod(second, _BLOCK)
        return _uniform_block(f"{self.seed}/{stream}/{block}")[index]

    def uniform(self, stream: str, at: datetime) -> float:
        """A seeded draw in [0, 1) for the second containing ``at`` (for device-side
        randomness, e.g. how far a movement disturbs a cuff reading)."""
        return self._uniform(stream, _second(at))

    def _drift(self, stream: str, second: int) -> float:
        """Slow drift in -1..1."""
        return sum(
            weight * math.sin(2 * math.pi * second / period + phase)
            for (period, weight), phase in zip(_DRIFT_PERIODS, self._phases[stream], strict=True)
        )

    def circadian(self, at: datetime) -> float:
        """-1 at 03:00 local time .. 1 at 15:00."""
        local = at.astimezone(self.tz)
        hour = local.hour + local.minute / 60 + local.second / 3600
        return -math.cos(2 * math.pi * (hour - _CIRCADIAN_TROUGH_HOUR) / 24)

    def _elapsed(self, second: int) -> int:
        return second - self._anchor_second

    # -- scenario events -------------------------------------------------------------

    def desaturation_depth(self, at: datetime) -> float:
        """How far into a desaturation episode: 0 outside, 1 on the plateau."""
        episode = self.profile.desaturation
        if episode is None:
            return 0.0
        since = self._elapsed(_second(at)) - _seconds(episode.first_after)
        if since < 0:
            return 0.0
        into = since % _seconds(episode.every)
        down, plateau, up = (
            _seconds(episode.ramp_down),
            _seconds(episode.plateau),
            _seconds(episode.ramp_up),
        )
        if into < down:
            return into / down
        if into < down + plateau:
            return 1.0
        if into < down + plateau + up:
            return 1.0 - (into - down - plateau) / up
        return 0.0

    def _dip_candidate(self, second: int) -> bool:
        motion = self.profile.motion
        return motion is not None and self._uniform("motion", second) < motion.dip_probability

    def artefact(self, at: datetime) -> bool:
        """A motion dip this second (never two seconds in a row)."""
        second = _second(at)
        return self._dip_candidate(second) and not self._dip_candidate(second - 1)

    def probe_off(self, at: datetime) -> bool:
        failure = self.profile.failure
        if failure is None:
            return False
        since = self._elapsed(_second(at)) - _seconds(failure.probe_off_first_after)
        return since >= 0 and since % _seconds(failure.probe_off_every) < _seconds(
            failure.probe_off_for
        )

    # -- quantities ------------------------------------------------------------------

    def pulse_rate(self, at: datetime) -> float:
        second = _second(at)
        haemo = self.profile.haemodynamics
        episode = self.profile.desaturation
        rise = 0.0 if episode is None else episode.pulse_rise * self.desaturation_depth(at)
        value = (
            self.baseline.pulse_rate
            + _CIRCADIAN_PULSE * self.circadian(at)
            + _PULSE_DRIFT * self._drift("pulse", second)
            + _PULSE_SD * self._gauss("pulse", second)
            + rise
        )
        return haemo.pulse_rate_limits.clip(value)

    def blood_pressure(self, at: datetime) -> BloodPressure:
        """What a cuff measurement finishing at ``at`` finds."""
        second = _second(at)
        haemo = self.profile.haemodynamics
        systolic = (
            self.baseline.systolic
            + _CIRCADIAN_SYSTOLIC * self.circadian(at)
            + _SYSTOLIC_SD * self._gauss("systolic", second)
        )
        pulse_pressure = (
            self.baseline.pulse_pressure
            + _PULSE_PRESSURE_SLOPE * (systolic - self.baseline.systolic)
            + _PULSE_PRESSURE_SD * self._gauss("pulse_pressure", second)
        )
        return BloodPressure(
            systolic=haemo.systolic_limits.clip(systolic),
            diastolic=haemo.diastolic_limits.clip(systolic - pulse_pressure),
            pulse_rate=self.pulse_rate(at),
        )

    def oximetry(self, at: datetime) -> OximetrySample:
        """The oximeter's view during the second containing ``at``."""
        second = _second(at)
        oxi = self.profile.oximetry
        resting = oxi.spo2_limits.clip(
            self.baseline.spo2
            + _SPO2_DRIFT * self._drift("spo2", second)
            + _SPO2_SD * self._gauss("spo2", second)
        )
        spo2 = resting
        episode = self.profile.desaturation
        depth = self.desaturation_depth(at)
        if episode is not None and depth >= 1.0:
            spo2 = Span(_SPO2_FLOOR, episode.plateau_ceiling).clip(
                episode.nadir + _PLATEAU_SD * self._gauss("plateau", second)
            )
        elif episode is not None and depth > 0.0:
            spo2 = resting - depth * (resting - episode.nadir)
        pulse = self.pulse_rate(at)
        perfusion = _PERFUSION_LIMITS.clip(
            self.baseline.perfusion_index
            * (1 + _PERFUSION_DRIFT * self._drift("perfusion", second))
            + _PERFUSION_SD * self._gauss("perfusion", second)
        )
        artefact = self.artefact(at)
        motion = self.profile.motion
        if artefact and motion is not None:
            spo2 = max(_SPO2_FLOOR, spo2 - motion.spo2_dip.at(self._uniform("dip", second)))
            pulse += motion.pulse_jump.at(self._uniform("jump", second))
        return OximetrySample(
            spo2=spo2,
            pulse_rate=pulse,
            perfusion_index=perfusion,
            artefact=artefact,
            probe_off=self.probe_off(at),
        )


def _second(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("times given to the simulator must be timezone-aware")
    return math.floor(at.timestamp())


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())
