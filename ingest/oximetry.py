"""A night of continuous oximetry, summarized: vectorized over the samples with numpy.

Definitions (per night, usable samples only: a value, and no unreliable flag,
ingest/rules/observation.py; time counts in one-second slots, one sample a second):

    recording time   first to last sample, plus one slot
    valid time       slots holding a usable SpO2 sample
    mean/min SpO2    over usable samples
    T90, T88         time with SpO2 below 90 % and below 88 % ("time saturation < 90 %",
                     as sleep studies report it, e.g. Thorax table "Basic sleep study
                     data"; 88 % is the COPD target's floor, clinical.md 5.2)
    ODI 3 % / 4 %    desaturation events per hour of valid time. An event is a run of at
                     least 10 consecutive slots at or below baseline minus 3 (or 4)
                     percentage points: the ODI counts drops "by 3 percent or more from
                     baseline" (Albury VitalAir FAQ; PhysioZoo ODIMeasure: "SpO2 drops by
                     x% below the baseline"), and respiratory events are scored from 10 s
                     (same FAQ). The baseline at a slot is the mean of the usable samples
                     of the 120 slots before it, when at least 60 of them have one.
    pulse            mean/min/max over usable pulse samples
    flagged share    share of received SpO2 samples that were not usable (data quality)

A missing or unusable slot ends an event (we do not guess what it hid).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SLOT_SECONDS = 1.0
T90_BELOW = 90.0
T88_BELOW = 88.0
ODI_DROPS = (3.0, 4.0)
MIN_EVENT_SLOTS = 10
BASELINE_SLOTS = 120
MIN_BASELINE_SAMPLES = 60
SECONDS_PER_HOUR = 3600.0
# Windows per median call: bounds the copy nanmedian makes to a few MB.
_CHUNK_ROWS = 4096


@dataclass(frozen=True, slots=True)
class Channel:
    """One kind's samples: times in seconds (any epoch), values (NaN: absent), usable."""

    times: FloatArray
    values: FloatArray
    usable: BoolArray

    def __post_init__(self) -> None:
        if not len(self.times) == len(self.values) == len(self.usable):
            raise ValueError("times, values and usable must have the same length")

    @classmethod
    def empty(cls) -> Channel:
        return cls(np.array([], np.float64), np.array([], np.float64), np.array([], np.bool_))

    @property
    def good(self) -> FloatArray:
        return self.values[self.usable & np.isfinite(self.values)]


@dataclass(frozen=True, slots=True, kw_only=True)
class NightSummary:
    recording_seconds: float
    valid_seconds: float
    samples: int
    flagged_share: float
    spo2_mean: float | None
    spo2_min: float | None
    t90_seconds: float
    t88_seconds: float
    odi3: float | None
    odi4: float | None
    pulse_mean: float | None
    pulse_min: float | None
    pulse_max: float | None


def summarize(spo2: Channel, pulse: Channel | None = None) -> NightSummary:
    """The night's summary (see the module docstring for every definition)."""
    pulse = pulse or Channel.empty()
    samples = len(spo2.times)
    grid = _grid(spo2)
    valid = np.isfinite(grid)
    valid_seconds = float(valid.sum()) * SLOT_SECONDS
    good = grid[valid]
    reference = baseline(grid)
    odi = [_odi(grid, reference, drop, valid_seconds) for drop in ODI_DROPS]
    spo2_mean, spo2_min, _ = _stats(good)
    pulse_mean, pulse_min, pulse_max = _stats(pulse.good)
    return NightSummary(
        recording_seconds=(float(np.ptp(spo2.times)) + SLOT_SECONDS) if samples else 0.0,
        valid_seconds=valid_seconds,
        samples=samples,
        flagged_share=float(1 - (spo2.usable & np.isfinite(spo2.values)).sum() / samples)
        if samples
        else 0.0,
        spo2_mean=spo2_mean,
        spo2_min=spo2_min,
        t90_seconds=float((good < T90_BELOW).sum()) * SLOT_SECONDS,
        t88_seconds=float((good < T88_BELOW).sum()) * SLOT_SECONDS,
        odi3=odi[0],
        odi4=odi[1],
        pulse_mean=pulse_mean,
        pulse_min=pulse_min,
        pulse_max=pulse_max,
    )


def baseline(grid: FloatArray) -> FloatArray:
    """Per slot, the median of the usable values of the BASELINE_SLOTS slots before it
    (NaN with fewer than MIN_BASELINE_SAMPLES of them). A median, so a drop shorter than
    half the window does not drag its own baseline down."""
    padded = np.concatenate((np.full(BASELINE_SLOTS, np.nan), grid))
    windows = sliding_window_view(padded, BASELINE_SLOTS)[: len(grid)]
    result = np.full(len(grid), np.nan)
    for start in range(0, len(grid), _CHUNK_ROWS):
        rows = windows[start : start + _CHUNK_ROWS]
        enough = np.isfinite(rows).sum(axis=1) >= MIN_BASELINE_SAMPLES
        with warnings.catch_warnings():
            # All-NaN windows are expected (gaps); they are masked out just below.
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(rows, axis=1)
        result[start : start + len(rows)] = np.where(enough, medians, np.nan)
    return result


def desaturation_events(grid: FloatArray, drop: float, reference: FloatArray | None = None) -> int:
    """Runs of at least MIN_EVENT_SLOTS slots at or below the baseline minus ``drop``."""
    if reference is None:
        reference = baseline(grid)
    with np.errstate(invalid="ignore"):
        low = np.isfinite(grid) & np.isfinite(reference) & (grid <= reference - drop)
    edges = np.diff(np.concatenate(([0], low.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(((ends - starts) >= MIN_EVENT_SLOTS).sum())


def _grid(channel: Channel) -> FloatArray:
    """Usable values on a grid of one-second slots from the first sample (NaN: none);
    two samples in one slot are averaged."""
    keep = channel.usable & np.isfinite(channel.values)
    if not keep.any():
        return np.array([], np.float64)
    slots = np.floor(channel.times[keep] / SLOT_SECONDS).astype(np.int64)
    slots -= slots.min()
    totals = np.bincount(slots, weights=channel.values[keep])
    counts = np.bincount(slots)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _odi(
    grid: FloatArray, reference: FloatArray, drop: float, valid_seconds: float
) -> float | None:
    if valid_seconds <= 0:
        return None
    return desaturation_events(grid, drop, reference) / (valid_seconds / SECONDS_PER_HOUR)


def _stats(values: FloatArray) -> tuple[float | None, float | None, float | None]:
    """(mean, min, max), or Nones when there are no values."""
    if values.size == 0:
        return None, None, None
    return float(values.mean()), float(values.min()), float(values.max())
