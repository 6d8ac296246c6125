"""Alerting settings: the rules, the watchdog and the webhooks, from ``TELECARE_ALERT_*``.

    TELECARE_ALERT_RED_SUSTAINED          seconds a continuous red breach must last   60
    TELECARE_ALERT_YELLOW_SUSTAINED       ... a yellow one                            300
    TELECARE_ALERT_LATE_AFTER             seconds after which a reading is late       900
    TELECARE_ALERT_IRREGULAR_PULSE        yellow | red | off                          yellow
    TELECARE_ALERT_ESCALATE_AFTER         seconds a red alert may stay unacknowledged 900
    TELECARE_ALERT_RESOLVE_AFTER          seconds back in range before auto-resolve   86400
    TELECARE_ALERT_RESOLVE_UNACKNOWLEDGED auto-resolve unacknowledged alerts too      false
    TELECARE_ALERT_GATEWAY_OFFLINE_AFTER  seconds offline before a technical alert    1800
    TELECARE_ALERT_DEVICE_SILENT_AFTER    seconds a device in use may be silent       345600
    TELECARE_ALERT_BATTERY_LOW_PERCENT    battery level that raises an alert         20
    TELECARE_ALERT_CLOCK_SKEW_LIMIT       seconds a device clock may be off           120
    TELECARE_ALERT_WATCHDOG_INTERVAL      seconds between watchdog ticks              30
    TELECARE_WEBHOOK_TIMEOUT              seconds one webhook POST may take           5
    TELECARE_WEBHOOK_MAX_ATTEMPTS         attempts before a delivery fails            8

Defaults and their sources: ingest/rules/settings.py, ``WatchdogSettings`` below,
ingest/webhook.py. A bad value is a ``SettingsError`` naming the variable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType

from ingest.errors import SettingsError
from ingest.oximetry_store import LOOKBACK_NIGHTS, SETTLE
from ingest.rules.settings import RuleSettings
from ingest.threshold import Severity
from ingest.webhook import WebhookSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchdogSettings:
    """The time-based side: how often, and the lifecycle's clocks."""

    # OpenTele checks for blue alarms every 2 minutes (clinical.md 1.6); 30 s keeps
    # technical and lifecycle steps well inside the 60 s perf.md 6 asks of escalation.
    interval: float = 30.0
    # Event relay and webhook delivery rounds: an event goes out about a second after it
    # commits (perf.md 6: visible within 5 s at p95).
    dispatch_interval: float = 1.0
    # A red alert nobody acknowledged within 15 minutes notifies the escalation target.
    # Our default: perf.md 6 asks that escalation itself take under 60 s once due,
    # ThingsBoard leaves the delay to each escalation chain (clinical.md 4.3).
    escalate_after: timedelta = timedelta(minutes=15)
    # A breach alert resolves itself after a day of readings back in range ...
    resolve_after: timedelta = timedelta(hours=24)
    # ... but only once acknowledged: an alert nobody saw must not vanish unseen.
    resolve_unacknowledged: bool = False
    # Clock, implausible and failed-measurement alerts resolve after a quiet day.
    technical_quiet: timedelta = timedelta(hours=24)
    # Missed slots older than this are not alerted (after an outage of the watchdog).
    missing_lookback: timedelta = timedelta(days=2)
    night_settle: timedelta = SETTLE
    night_lookback: int = LOOKBACK_NIGHTS
    # A stranger's device no gateway has reported for this long is forgotten: sightings
    # help the fleet find an unregistered device at delivery, not to track neighbours.
    sighting_retention: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        for name in ("interval", "dispatch_interval"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        for name in (
            "escalate_after",
            "resolve_after",
            "technical_quiet",
            "missing_lookback",
            "sighting_retention",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.night_lookback < 1:
            raise ValueError("night_lookback must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSettings:
    rules: RuleSettings = field(default_factory=RuleSettings)
    watchdog: WatchdogSettings = field(default_factory=WatchdogSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AlertSettings:
        """Settings from ``environ``; unset variables keep their defaults."""
        changes: dict[str, dict[str, object]] = {"rules": {}, "watchdog": {}, "webhooks": {}}
        for name, (section, attribute, convert) in VARIABLES.items():
            text = environ.get(name, "").strip()
            if not text:
                continue
            try:
                changes[section][attribute] = convert(text)
            except ValueError as exc:
                raise SettingsError(f"{name}={text!r}: {exc}") from None
        defaults = cls()
        try:
            return cls(
                rules=replace(defaults.rules, **changes["rules"]),  # type: ignore[arg-type]
                watchdog=replace(defaults.watchdog, **changes["watchdog"]),  # type: ignore[arg-type]
                webhooks=replace(defaults.webhooks, **changes["webhooks"]),  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise SettingsError(f"bad alert settings: {exc}") from exc


def _seconds(text: str) -> timedelta:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive number of seconds")
    return timedelta(seconds=value)


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive number")
    return value


def _severity_or_off(text: str) -> Severity | None:
    if text == "off":
        return None
    if text not in (Severity.YELLOW, Severity.RED):
        raise ValueError("must be yellow, red or off")
    return Severity(text)


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return text.lower() == "true"


# Variable -> (settings section, attribute, converter): the table the docstring lists.
VARIABLES: MappingProxyType[str, tuple[str, str, Callable[[str], object]]] = MappingProxyType(
    {
        "TELECARE_ALERT_RED_SUSTAINED": ("rules", "red_sustained", _seconds),
        "TELECARE_ALERT_YELLOW_SUSTAINED": ("rules", "yellow_sustained", _seconds),
        "TELECARE_ALERT_LATE_AFTER": ("rules", "late_after", _seconds),
        "TELECARE_ALERT_IRREGULAR_PULSE": ("rules", "irregular_pulse", _severity_or_off),
        "TELECARE_ALERT_GATEWAY_OFFLINE_AFTER": ("rules", "gateway_offline_after", _seconds),
        "TELECARE_ALERT_DEVICE_SILENT_AFTER": ("rules", "device_silent_after", _seconds),
        "TELECARE_ALERT_BATTERY_LOW_PERCENT": ("rules", "battery_low_percent", int),
        "TELECARE_ALERT_CLOCK_SKEW_LIMIT": ("rules", "clock_skew_limit", _seconds),
        "TELECARE_ALERT_ESCALATE_AFTER": ("watchdog", "escalate_after", _seconds),
        "TELECARE_ALERT_RESOLVE_AFTER": ("watchdog", "resolve_after", _seconds),
        "TELECARE_ALERT_RESOLVE_UNACKNOWLEDGED": ("watchdog", "resolve_unacknowledged", _boolean),
        "TELECARE_ALERT_WATCHDOG_INTERVAL": ("watchdog", "interval", _positive_float),
        "TELECARE_WEBHOOK_TIMEOUT": ("webhooks", "timeout", _positive_float),
        "TELECARE_WEBHOOK_MAX_ATTEMPTS": ("webhooks", "max_attempts", int),
    }
)
