"""Scenarios: what a simulated household is going through, as a table of parameters.

Each ``Scenario`` changes one aspect of the simulation (the blood-pressure level, oxygen
episodes, motion artefacts, device failures, the device clocks), so scenarios combine:
``combine((Scenario.HYPERTENSIVE_CRISIS, Scenario.MOTION_ARTEFACT))`` is a hypertensive
patient who moves. Two scenarios that set the same aspect differently (crisis and
hypotension) do not combine. Whatever no scenario sets stays as in ``NORMAL``, a healthy
adult with set clocks and working devices.

The ``limits`` in the table are the scenario's promise: every value the simulators send
lies inside them (artefacts and failures excepted, which are flagged or sent as NaN).
Thresholds behind the numbers: ../shared/reference/clinical.md section 5 (ACC/AHA 2017
crisis > 180 and/or > 120 mmHg; NEWS2 systolic <= 90 red; BTS 2017 SpO2 88-92 % for COPD;
"SpO2 <= 88 % for 5 minutes" as the sustained desaturation rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Scenario(StrEnum):
    """A named situation; the value is what the command line and the demo accept."""

    NORMAL = "normal"
    HYPERTENSIVE_CRISIS = "hypertensive_crisis"
    HYPOTENSION = "hypotension"
    ELEVATED_PRESSURE = "elevated_pressure"
    DESATURATION = "desaturation"
    MOTION_ARTEFACT = "motion_artefact"
    ERROR_READING = "error_reading"
    CLOCK_UNSET = "clock_unset"


@dataclass(frozen=True, slots=True)
class Span:
    """A closed interval ``low..high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"empty span {self.low}..{self.high}")

    def clip(self, value: float) -> float:
        return min(max(value, self.low), self.high)

    def at(self, fraction: float) -> float:
        """The point ``fraction`` (0..1) of the way from ``low`` to ``high``."""
        return self.low + (self.high - self.low) * fraction

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


@dataclass(frozen=True, slots=True, kw_only=True)
class Haemodynamics:
    """Where a patient's blood pressure and pulse sit, and the limits no reading leaves.

    A patient's baseline is drawn from the ``*_baseline`` spans; diastolic pressure is
    systolic minus pulse pressure, so the two move together as they do in life.
    """

    systolic_baseline: Span
    pulse_pressure_baseline: Span
    pulse_rate_baseline: Span
    systolic_limits: Span
    diastolic_limits: Span
    pulse_rate_limits: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Oximetry:
    """Where a patient's SpO2 and perfusion index sit outside any episode."""

    spo2_baseline: Span
    spo2_limits: Span
    perfusion_index_baseline: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Desaturation:
    """Recurring episodes: SpO2 ramps down to ``nadir``, stays there, and recovers.

    During the plateau no sample rises above ``plateau_ceiling``, so an episode is a
    sustained breach of an 88 % limit for the whole plateau.
    """

    first_after: timedelta
    every: timedelta
    ramp_down: timedelta
    plateau: timedelta
    ramp_up: timedelta
    nadir: float
    plateau_ceiling: float
    pulse_rise: float

    @property
    def duration(self) -> timedelta:
        return self.ramp_down + self.plateau + self.ramp_up

    def __post_init__(self) -> None:
        if self.duration >= self.every:
            raise ValueError("an episode must end before the next one starts")
        if self.nadir > self.plateau_ceiling:
            raise ValueError("the nadir must lie below the plateau ceiling")


@dataclass(frozen=True, slots=True, kw_only=True)
class Motion:
    """Movement: isolated one-second oximeter dips and cuff readings disturbed by movement.

    A second is a dip candidate with ``dip_probability``; it dips only when the second
    before was no candidate, so two dips are never adjacent.
    """

    dip_probability: float
    spo2_dip: Span
    pulse_jump: Span
    cuff_every: int  # every n-th cuff measurement (counting from the first) is disturbed
    cuff_systolic_error: Span

    def __post_init__(self) -> None:
        if not 0 < self.dip_probability < 1:
            raise ValueError("dip_probability must lie strictly between 0 and 1")
        if self.cuff_every < 1:
            raise ValueError("cuff_every must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """Measurements the devices fail to make and send as NaN."""

    cuff_every: int  # every n-th cuff measurement (counting from the first) fails
    spot_check_every: int  # likewise for oximeter spot-checks
    probe_off_first_after: timedelta  # finger out of the probe: continuous samples are NaN
    probe_off_every: timedelta
    probe_off_for: timedelta

    def __post_init__(self) -> None:
        if self.cuff_every < 1 or self.spot_check_every < 1:
            raise ValueError("failure periods must be at least 1")
        if self.probe_off_for >= self.probe_off_every:
            raise ValueError("the probe must be back on before it comes off again")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSpec:
    """One row of the table: the aspects a scenario sets (None: left to the others)."""

    expect: str  # what a clinician, or an alert rule, should see
    # The situation began when the devices were switched on (the household's start): what
    # the devices stored before shows the patient without it (household.py, history.py).
    began_at_start: bool = False
    haemodynamics: Haemodynamics | None = None
    oximetry: Oximetry | None = None
    desaturation: Desaturation | None = None
    motion: Motion | None = None
    failure: Failure | None = None
    clock_unset: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Scenarios combined: every aspect decided."""

    scenarios: tuple[Scenario, ...]
    haemodynamics: Haemodynamics
    oximetry: Oximetry
    desaturation: Desaturation | None
    motion: Motion | None
    failure: Failure | None
    clock_unset: bool


_NORMAL_HAEMODYNAMICS = Haemodynamics(
    # Home BP below 135/85 (Hypertension Canada; clinical.md 5.1), pulse 51-90 scores 0 in NEWS2.
    systolic_baseline=Span(112, 124),
    pulse_pressure_baseline=Span(38, 46),
    pulse_rate_baseline=Span(60, 76),
    systolic_limits=Span(100, 134),
    diastolic_limits=Span(60, 84),
    pulse_rate_limits=Span(51, 95),
)
_NORMAL_OXIMETRY = Oximetry(
    # SpO2 >= 96 % scores 0 on NEWS2 scale 1; 94 % is the BTS lower target (clinical.md 5.2-5.3).
    spo2_baseline=Span(96, 98),
    spo2_limits=Span(94, 100),
    perfusion_index_baseline=Span(2.0, 6.0),
)

SCENARIOS: MappingProxyType[Scenario, ScenarioSpec] = MappingProxyType(
    {
        Scenario.NORMAL: ScenarioSpec(
            # Sets no aspect: everything stays at the baseline profile below.
            expect="Readings inside every default threshold; no alert of any colour.",
        ),
        Scenario.HYPERTENSIVE_CRISIS: ScenarioSpec(
            began_at_start=True,
            expect=(
                "Every cuff reading above 180/120 mmHg (ACC/AHA 2017 hypertensive crisis): "
                "a red blood-pressure alert on the first reading, updated by later ones."
            ),
            haemodynamics=Haemodynamics(
                systolic_baseline=Span(198, 212),
                pulse_pressure_baseline=Span(66, 74),
                pulse_rate_baseline=Span(78, 92),
                systolic_limits=Span(185, 240),
                diastolic_limits=Span(123, 150),
                pulse_rate_limits=Span(60, 110),
            ),
        ),
        Scenario.HYPOTENSION: ScenarioSpec(
            began_at_start=True,
            expect=(
                "Every systolic below 90 mmHg (NEWS2 scores <= 90 as 3) with a compensating "
                "pulse of 85-110/min: a red low-systolic alert on the first reading."
            ),
            haemodynamics=Haemodynamics(
                systolic_baseline=Span(80, 85),
                pulse_pressure_baseline=Span(28, 33),
                pulse_rate_baseline=Span(92, 100),
                systolic_limits=Span(72, 88),
                diastolic_limits=Span(42, 60),
                pulse_rate_limits=Span(85, 110),
            ),
        ),
        Scenario.ELEVATED_PRESSURE: ScenarioSpec(
            began_at_start=True,
            expect=(
                "Home blood pressure at 136-158/86-94 mmHg, above the HOME-BP limit of 135/85 "
                "(the hypertension program's yellow high limits) and below the general "
                "program's 160/95: a yellow alert for a hypertension patient, none for others."
            ),
            haemodynamics=Haemodynamics(
                systolic_baseline=Span(144, 150),
                pulse_pressure_baseline=Span(54, 58),
                pulse_rate_baseline=Span(66, 80),
                systolic_limits=Span(136, 158),
                diastolic_limits=Span(86, 94),
                pulse_rate_limits=Span(55, 95),
            ),
        ),
        Scenario.DESATURATION: ScenarioSpec(
            began_at_start=True,
            expect=(
                "A COPD patient at 92-94 % between episodes (inside the BTS 88-92 % target "
                "band or just above it); every two hours SpO2 falls to about 84 % and stays "
                "at or below 87 % for six minutes: the sustained-breach rule (SpO2 <= 88 % "
                "for five minutes) raises a red alert once per episode, with pulse rising."
            ),
            oximetry=Oximetry(
                spo2_baseline=Span(92, 94),
                spo2_limits=Span(90, 97),
                perfusion_index_baseline=Span(1.0, 3.0),
            ),
            desaturation=Desaturation(
                first_after=timedelta(minutes=2),
                every=timedelta(hours=2),
                ramp_down=timedelta(seconds=60),
                plateau=timedelta(minutes=6),
                ramp_up=timedelta(seconds=90),
                nadir=84.0,
                plateau_ceiling=87.0,
                pulse_rise=12.0,
            ),
        ),
        Scenario.MOTION_ARTEFACT: ScenarioSpec(
            expect=(
                "Single one-second SpO2 dips (to the low 80s) flagged 'questionable "
                "measurement' and 'erratic signal', never two in a row: no sustained alert "
                "and no red spot alert from a flagged sample. Every second cuff reading has "
                "'body movement detected' set and reads high: a clinician sees the flag."
            ),
            motion=Motion(
                dip_probability=1 / 30,
                spo2_dip=Span(9, 14),
                pulse_jump=Span(15, 35),
                cuff_every=2,
                cuff_systolic_error=Span(8, 18),
            ),
        ),
        Scenario.ERROR_READING: ScenarioSpec(
            expect=(
                "Every second cuff measurement fails (failed inflation): systolic, "
                "diastolic, MAP and pulse arrive as NaN and decode to readings with "
                "absent_reason 'not_a_number', never to 2047. Every second spot-check is "
                "NaN with 'measurement unavailable'; every ten minutes the finger leaves the "
                "probe for 10 s (NaN samples, 'sensor unconnected'). No clinical alert; "
                "repeated failures are a technical matter."
            ),
            failure=Failure(
                cuff_every=2,
                spot_check_every=2,
                probe_off_first_after=timedelta(minutes=1),
                probe_off_every=timedelta(minutes=10),
                probe_off_for=timedelta(seconds=10),
            ),
        ),
        Scenario.CLOCK_UNSET: ScenarioSpec(
            expect=(
                "Neither device clock is set: the cuff sends Date Time 'unknown' (all zero) "
                "and the oximeter sets 'device clock is not set' beside a time counted from "
                "2000-01-01. Readings get the gateway's receive time (flag receive_time); a "
                "fleet manager sees a clock problem until the gateway writes Current Time."
            ),
            clock_unset=True,
        ),
    }
)


# What every aspect is when no scenario sets it.
_BASELINE_PROFILE = Profile(
    scenarios=(Scenario.NORMAL,),
    haemodynamics=_NORMAL_HAEMODYNAMICS,
    oximetry=_NORMAL_OXIMETRY,
    desaturation=None,
    motion=None,
    failure=None,
    clock_unset=False,
)
_ASPECTS = tuple(f.name for f in fields(ScenarioSpec) if f.name not in {"expect", "began_at_start"})


def combine(scenarios: Scenario | Iterable[Scenario]) -> Profile:
    """Merge scenarios into one profile; ValueError when two set one aspect differently."""
    chosen = (scenarios,) if isinstance(scenarios, Scenario) else tuple(dict.fromkeys(scenarios))
    # Any: each value comes from the ScenarioSpec field of the same name and type.
    aspects: dict[str, Any] = {}
    setters: dict[str, Scenario] = {}
    for scenario in chosen:
        spec = SCENARIOS[scenario]
        for aspect in _ASPECTS:
            value = getattr(spec, aspect)
            if value is None:
                continue
            if aspect in aspects and aspects[aspect] != value:
                raise ValueError(f"{setters[aspect]} and {scenario} both set {aspect}")
            aspects[aspect] = value
            setters.setdefault(aspect, scenario)
    return replace(_BASELINE_PROFILE, scenarios=chosen or (Scenario.NORMAL,), **aspects)


def before_start(scenarios: Scenario | Iterable[Scenario]) -> tuple[Scenario, ...]:
    """The scenarios already going on before the household's start: the others began then."""
    chosen = (scenarios,) if isinstance(scenarios, Scenario) else tuple(dict.fromkeys(scenarios))
    earlier = tuple(scenario for scenario in chosen if not SCENARIOS[scenario].began_at_start)
    return earlier or (Scenario.NORMAL,)
