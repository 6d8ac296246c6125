"""The knobs of the alert rules, with their defaults and where those come from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from ingest.threshold import Severity

# A continuous stream must stay beyond a red limit for 60 s, beyond a yellow one for
# 5 minutes (issue #5). Bedside oximeters delay SpO2 alarms by 10-30 s (reference:
# perf.md 6, GE CARESCAPE ONE, Philips MP2), and a home stream has no one at the bedside
# to silence a nuisance alarm; 5 minutes is the US Medicare nocturnal-oxygen criterion
# (SpO2 <= 88 % for 5 minutes, clinical.md 5.4).
RED_SUSTAINED = timedelta(seconds=60)
YELLOW_SUSTAINED = timedelta(minutes=5)
# Oximeters stream one sample a second (PLX continuous; devices/simulator SAMPLE_INTERVAL).
SAMPLE_INTERVAL = timedelta(seconds=1)
# A breach is sustained when 90 % of the span's seconds have a usable sample beyond the
# limit: dropped or flagged samples and single-second blips do not reset it, and 10 %
# of a span cannot be one artefact's doing. Median filters over such windows cut
# fluctuation alarms without losing timeliness (Zahradka et al. 2023, perf.md 6).
MIN_COVERAGE = 0.9
# A reading that reaches ingest this long after it was measured raises a "late" alert:
# far beyond the seconds the pipeline takes (perf.md 6 targets 5 s), so it sat in a
# gateway's outbox or a device's memory.
LATE_AFTER = timedelta(minutes=15)
# Repeated implausible or failed measurements: three in a day is a pattern, not bad luck.
REPEATED_COUNT = 3
REPEATED_WINDOW = timedelta(hours=24)
# Nightscout's stale-data alarm turns urgent after 30 minutes without data (clinical.md 4.1).
GATEWAY_OFFLINE_AFTER = timedelta(minutes=30)
# Longer than the longest gap a twice-weekly schedule leaves (TeleKOL after its first two
# weeks, clinical.md 5.5): three and a half days.
DEVICE_SILENT_AFTER = timedelta(days=4)
# Nightscout's uploader battery alarm is urgent at 20 % (warns at 30 %, clinical.md 4.1).
BATTERY_LOW_PERCENT = 20
# A device clock further off than this when the gateway read it raises a clock-skew alert.
# The gateway's own tolerance (gateway/settings.py [ble] clock_tolerance_s, 120 s): beyond
# it the gateway reports a clock_skew event and sets the clock. Cheap clocks drift a few
# seconds a day, so this much means a reset clock (battery change) or a zone mistake, and
# readings the device stored meanwhile carry wrong times.
CLOCK_SKEW_LIMIT = timedelta(seconds=120)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSettings:
    """Every rule parameter; the defaults are the module constants above."""

    red_sustained: timedelta = RED_SUSTAINED
    yellow_sustained: timedelta = YELLOW_SUSTAINED
    sample_interval: timedelta = SAMPLE_INTERVAL
    min_coverage: float = MIN_COVERAGE
    late_after: timedelta = LATE_AFTER
    # The severity of the irregular-pulse alert; None switches the rule off.
    irregular_pulse: Severity | None = Severity.YELLOW
    # A spot reading flagged as disturbed (body movement, loose cuff, bad position) raises
    # at most this: a clinician sees the flag and asks for a new measurement.
    disturbed_at_most: Severity = Severity.YELLOW
    repeated_count: int = REPEATED_COUNT
    repeated_window: timedelta = REPEATED_WINDOW
    gateway_offline_after: timedelta = GATEWAY_OFFLINE_AFTER
    device_silent_after: timedelta = DEVICE_SILENT_AFTER
    battery_low_percent: int = BATTERY_LOW_PERCENT
    clock_skew_limit: timedelta = CLOCK_SKEW_LIMIT

    def __post_init__(self) -> None:
        if not timedelta(0) < self.sample_interval <= self.red_sustained:
            raise ValueError("sample_interval must be positive and at most red_sustained")
        if not self.red_sustained <= self.yellow_sustained:
            raise ValueError("a red breach cannot need longer than a yellow one")
        if not (math.isfinite(self.min_coverage) and 0 < self.min_coverage <= 1):
            raise ValueError(f"min_coverage must lie in (0, 1], got {self.min_coverage}")
        if self.irregular_pulse is Severity.BLUE or self.disturbed_at_most is Severity.BLUE:
            raise ValueError("blue is for missing measurements only")
        for name in ("late_after", "repeated_window", "gateway_offline_after"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        for name in ("device_silent_after", "clock_skew_limit"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.repeated_count < 1:
            raise ValueError("repeated_count must be at least 1")
        if not 0 <= self.battery_low_percent <= 100:
            raise ValueError("battery_low_percent must lie in 0..100")

    def sustained_for(self, severity: Severity) -> timedelta:
        return self.red_sustained if severity is Severity.RED else self.yellow_sustained

    @property
    def longest_sustained(self) -> timedelta:
        return max(self.red_sustained, self.yellow_sustained)
