"""Care programs: the default thresholds and measurement schedules a patient starts with.

Enrolment copies a program's defaults onto the patient (OpenTele's StandardThresholdSet,
duplicated per patient; FUT's reference ranges copied from the ActivityDefinition:
reference clinical.md 1.5 and 2.2); from then on the treating doctor adjusts them for the
patient (clinical.md 5.5: "Det er en lægefaglig opgave at vurdere og justere
grænseværdierne"). The tables below are the whole of it: every limit names its source,
and docs/alerts.md explains them in words a clinician can check.

A limit is the last acceptable value (ingest/threshold.py): "NEWS2 scores a systolic
pressure of 90 or less as 3" becomes a red low limit of 91. Sources (clinical.md 5.1-5.3):

    NEWS2   Royal College of Physicians 2017, Chart 1 (scale 1; scale 2 for COPD)
    TELBIL  home care of heart failure / COPD patients, BMC Health Serv Res 2011;11:56,
            Table 1 alarm limits
    ACC/AHA 2017 guideline: hypertensive crisis above 180 and/or above 120 mmHg
    HOME-BP home blood pressure of 135/85 mmHg or more is elevated (Hypertension Canada;
            ESH, Parati et al., J Hypertens 2021;39:1742)
    BTS     British Thoracic Society 2017: SpO2 target 88-92 % for patients at risk of
            hypercapnic respiratory failure (COPD)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from types import MappingProxyType

from devices.reading import Kind
from ingest.schedule import DEFAULT_TIMEZONE, MeasurementSchedule
from ingest.threshold import Threshold


class Program(StrEnum):
    """A care program (monitoring_plans.program, thresholds.program)."""

    COPD = "copd"
    HYPERTENSION = "hypertension"
    HEART_FAILURE = "heart_failure"
    GENERAL = "general"


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultThreshold:
    """A program's default for one kind, with where each limit comes from."""

    threshold: Threshold
    source: str


# Blood pressure, pulse and SpO2 outside hypertension and COPD care: TELBIL's alarm limits
# for yellow, NEWS2's score-3 bands (and the ACC/AHA crisis) for red.
_SYSTOLIC = DefaultThreshold(
    threshold=Threshold(
        kind=Kind.SYSTOLIC, red_low=91.0, yellow_low=100.0, yellow_high=160.0, red_high=180.0
    ),
    source="red low 91: NEWS2 scores <= 90 as 3; yellow 100-160: TELBIL SBP < 100 or > 160; "
    "red high 180: ACC/AHA 2017 hypertensive crisis > 180",
)
_DIASTOLIC = DefaultThreshold(
    threshold=Threshold(kind=Kind.DIASTOLIC, yellow_low=60.0, yellow_high=95.0, red_high=120.0),
    source="yellow 60-95: TELBIL DBP < 60 or > 95; red high 120: ACC/AHA 2017 crisis > 120",
)
_PULSE = DefaultThreshold(
    threshold=Threshold(
        kind=Kind.PULSE_RATE, red_low=41.0, yellow_low=50.0, yellow_high=100.0, red_high=130.0
    ),
    source="red low 41: NEWS2 scores <= 40 as 3; yellow 50-100: TELBIL HR < 50 or > 100; "
    "red high 130: NEWS2 scores >= 131 as 3",
)
_SPO2 = DefaultThreshold(
    threshold=Threshold(kind=Kind.SPO2, red_low=92.0, yellow_low=94.0),
    source="red low 92: NEWS2 scale 1 scores <= 91 as 3; yellow low 94: NEWS2 scale 1 "
    "scores 92-93 as 2",
)

PROGRAM_THRESHOLDS: MappingProxyType[Program, tuple[DefaultThreshold, ...]] = MappingProxyType(
    {
        Program.GENERAL: (_SYSTOLIC, _DIASTOLIC, _PULSE, _SPO2),
        Program.COPD: (
            _SYSTOLIC,
            _DIASTOLIC,
            _PULSE,
            DefaultThreshold(
                threshold=Threshold(kind=Kind.SPO2, red_low=88.0),
                source="red low 88: below the BTS 2017 target of 88-92 % for patients at risk "
                "of hypercapnic respiratory failure, where BTS asks for clinical assessment; "
                "NEWS2 scale 2 scores below 88 too",
            ),
        ),
        Program.HYPERTENSION: (
            DefaultThreshold(
                threshold=Threshold(
                    kind=Kind.SYSTOLIC,
                    red_low=91.0,
                    yellow_low=100.0,
                    yellow_high=134.0,
                    red_high=180.0,
                ),
                source="yellow high 134: HOME-BP, 135 or more is elevated at home; red high "
                "180: ACC/AHA 2017 crisis > 180; lows as in the general program",
            ),
            DefaultThreshold(
                threshold=Threshold(
                    kind=Kind.DIASTOLIC, yellow_low=60.0, yellow_high=84.0, red_high=120.0
                ),
                source="yellow high 84: HOME-BP, 85 or more is elevated at home; red high 120: "
                "ACC/AHA 2017 crisis > 120; yellow low 60: TELBIL DBP < 60",
            ),
            _PULSE,
            _SPO2,
        ),
        Program.HEART_FAILURE: (
            _SYSTOLIC,
            _DIASTOLIC,
            _PULSE,
            DefaultThreshold(
                threshold=Threshold(kind=Kind.SPO2, red_low=92.0, yellow_low=95.0),
                source="yellow low 95: TELBIL SpO2 < 95; red low 92: NEWS2 scale 1 scores "
                "<= 91 as 3",
            ),
        ),
    }
)

_MORNING, _EVENING = time(8, 0), time(20, 0)
# Local times per program and kind; every program's schedule has the default grace.
# COPD: TeleKOL asks for measurements twice daily in the first 14 days (clinical.md 5.5).
# Hypertension: duplicate morning and evening readings (Hypertension Canada, clinical.md
# 5.1). General: the example, blood pressure twice daily and SpO2 daily.
# Heart failure: daily blood pressure and SpO2 (weight, its main measure, is not a kind yet).
PROGRAM_SCHEDULES: MappingProxyType[Program, tuple[tuple[Kind, tuple[time, ...]], ...]] = (
    MappingProxyType(
        {
            Program.COPD: ((Kind.SPO2, (_MORNING, _EVENING)),),
            Program.HYPERTENSION: ((Kind.SYSTOLIC, (time(7, 0), time(19, 0))),),
            Program.HEART_FAILURE: ((Kind.SYSTOLIC, (_MORNING,)), (Kind.SPO2, (_MORNING,))),
            Program.GENERAL: ((Kind.SYSTOLIC, (_MORNING, _EVENING)), (Kind.SPO2, (_MORNING,))),
        }
    )
)


def default_thresholds(program: Program) -> tuple[Threshold, ...]:
    """The thresholds a patient enrolled in ``program`` starts with."""
    return tuple(default.threshold for default in PROGRAM_THRESHOLDS[program])


def default_schedules(
    program: Program, *, timezone: str = DEFAULT_TIMEZONE
) -> tuple[MeasurementSchedule, ...]:
    """The measurement schedules a patient enrolled in ``program`` starts with."""
    return tuple(
        MeasurementSchedule(kind=kind, times=times, timezone=timezone)
        for kind, times in PROGRAM_SCHEDULES[program]
    )
