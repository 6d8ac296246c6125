"""Technical rules: gateways, devices and clocks, for the fleet and never for clinicians.

On arrival (ingest/alerts.py): a device whose clock is not set or sent no usable time
(clock skew), and devices that repeatedly send implausible or failed measurements. From
the watchdog, on what the gateways' status messages left in the gateways and devices rows
(ingest/gateway_status_store.py): a gateway offline too long, a gateway reporting its
outbox full, a device's battery low, a device in use that has been silent for days, and
a device whose clock the gateway found off by more than the limit. The watchdog
conditions are states: their candidates add no count (``count=0``) while the state
lasts. The watchdog resolves gateway offline, outbox full, battery low and device silent
once the state is gone; clock skew, which arrivals raise too, resolves after a quiet day
(ingest/watchdog.py). Limits: ingest/rules/settings.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from devices.reading import Flag
from gateway.contract import GatewayFlag, GatewayState
from ingest.alert import AlertCandidate, Audience, TechnicalCondition
from ingest.rules.observation import Observation
from ingest.rules.settings import RuleSettings
from ingest.threshold import Direction, Severity

# Every technical alert is yellow: none of them is about the patient's body, and red
# (which escalates) is kept for what is (ingest/alert_store.py).
TECHNICAL_SEVERITY = Severity.YELLOW


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayHealth:
    """A gateway as its last status left it (gateways row).

    ``state`` is a GatewayState value, or "unknown" before the first status; an offline
    gateway keeps the flags and depth it last reported.
    """

    gateway_id: str
    state: str
    status_at: datetime | None = None
    outbox_depth: int | None = None
    flags: frozenset[GatewayFlag] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceHealth:
    """A device as the fleet knows it (devices row, plus its newest reading).

    ``clock_offset_s`` is the device clock minus the gateway's when a gateway last read
    it (gateway.contract DeviceStatus), ``reported_at`` the status that said so.
    """

    device_id: str
    in_use: bool
    battery_percent: int | None = None
    last_heard: datetime | None = None
    clock_offset_s: float | None = None
    reported_at: datetime | None = None


def _technical(
    condition: TechnicalCondition,
    *,
    first_at: datetime,
    last_at: datetime,
    device_id: str | None = None,
    gateway_id: str | None = None,
    count: int = 1,
    worst_value: float | None = None,
    direction: Direction | None = None,
) -> AlertCandidate:
    return AlertCandidate(
        condition=condition,
        audience=Audience.TECHNICAL,
        severity=TECHNICAL_SEVERITY,
        device_id=device_id,
        gateway_id=gateway_id,
        first_at=first_at,
        last_at=last_at,
        count=count,
        worst_value=worst_value,
        direction=direction,
    )


def has_clock_problem(observation: Observation) -> bool:
    """The device says its clock is not set, or a spot reading came with no usable time.

    Continuous samples never carry a device time (they get the receive time by design,
    devices/clock.py), so only spot readings tell about the clock.
    """
    flags = observation.reading.flags
    return Flag.DEVICE_CLOCK_NOT_SET in flags or (
        Flag.RECEIVE_TIME in flags and not observation.reading.continuous
    )


def clock_candidates(
    observations: Iterable[Observation], *, measured_in_future: Iterable[Observation] = ()
) -> list[AlertCandidate]:
    """One candidate per reading with a clock problem or quarantined as measured in future."""
    troubled = [o for o in observations if has_clock_problem(o)]
    return [
        _technical(
            TechnicalCondition.CLOCK_SKEW,
            device_id=o.reading.device_id,
            first_at=o.received_at,
            last_at=o.received_at,
        )
        for o in (*troubled, *measured_in_future)
    ]


def repeated_candidate(
    condition: TechnicalCondition,
    device_id: str,
    *,
    occurrences: int,
    new: int,
    first_at: datetime,
    last_at: datetime,
    settings: RuleSettings,
) -> AlertCandidate | None:
    """Raise when ``occurrences`` in the rule's window reach RuleSettings.repeated_count."""
    if occurrences < settings.repeated_count or new < 1:
        return None
    return _technical(condition, device_id=device_id, first_at=first_at, last_at=last_at, count=new)


def gateway_candidates(
    gateways: Iterable[GatewayHealth], *, now: datetime, settings: RuleSettings
) -> list[AlertCandidate]:
    """Gateways offline for longer than the limit, and gateways reporting a full outbox."""
    candidates = []
    for gateway in gateways:
        since = gateway.status_at
        if gateway.state == GatewayState.OFFLINE and since is not None:
            offline = now - since
            if offline >= settings.gateway_offline_after:
                candidates.append(
                    _technical(
                        TechnicalCondition.GATEWAY_OFFLINE,
                        gateway_id=gateway.gateway_id,
                        first_at=min(since, now),
                        last_at=now,
                        count=0,
                        worst_value=offline.total_seconds(),
                        direction=Direction.HIGH,
                    )
                )
        # The gateway knows its outbox's capacity (gateway/outbox.py); ingest does not.
        if GatewayFlag.OUTBOX_FULL in gateway.flags:
            depth = gateway.outbox_depth
            candidates.append(
                _technical(
                    TechnicalCondition.OUTBOX_FULL,
                    gateway_id=gateway.gateway_id,
                    first_at=now,
                    last_at=now,
                    count=0,
                    worst_value=None if depth is None else float(depth),
                    direction=Direction.HIGH,
                )
            )
    return candidates


def device_candidates(
    devices: Iterable[DeviceHealth], *, now: datetime, settings: RuleSettings
) -> list[AlertCandidate]:
    """Devices with a low battery or a clock off, and devices in use silent too long."""
    candidates = []
    for device in devices:
        battery = device.battery_percent
        if battery is not None and battery <= settings.battery_low_percent:
            candidates.append(
                _technical(
                    TechnicalCondition.BATTERY_LOW,
                    device_id=device.device_id,
                    first_at=now,
                    last_at=now,
                    count=0,
                    worst_value=float(battery),
                    direction=Direction.LOW,
                )
            )
        heard = device.last_heard
        if device.in_use and heard is not None and now - heard >= settings.device_silent_after:
            candidates.append(
                _technical(
                    TechnicalCondition.DEVICE_SILENT,
                    device_id=device.device_id,
                    first_at=min(heard, now),
                    last_at=now,
                    count=0,
                    worst_value=(now - heard).total_seconds(),
                    direction=Direction.HIGH,
                )
            )
        offset = device.clock_offset_s
        if offset is not None and abs(offset) > settings.clock_skew_limit.total_seconds():
            reported = device.reported_at
            candidates.append(
                _technical(
                    TechnicalCondition.CLOCK_SKEW,
                    device_id=device.device_id,
                    first_at=now if reported is None else min(reported, now),
                    last_at=now,
                    count=0,
                    # How far off, either way (the devices row keeps the sign).
                    worst_value=abs(offset),
                    direction=Direction.HIGH,
                )
            )
    return candidates
