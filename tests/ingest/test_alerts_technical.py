"""Technical rules for the fleet, at their edges (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.reading import Flag, Kind
from gateway.contract import GatewayFlag
from ingest.alert import Audience, TechnicalCondition
from ingest.rules.observation import Observation
from ingest.rules.settings import RuleSettings
from ingest.rules.technical import (
    DeviceHealth,
    GatewayHealth,
    clock_candidates,
    device_candidates,
    gateway_candidates,
    has_clock_problem,
    repeated_candidate,
)
from ingest.threshold import Direction
from tests.ingest.alerting import spot

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
RULES = RuleSettings()


def observe(reading) -> Observation:
    return Observation(reading=reading, patient_id=1, gateway_id="gw-1", received_at=NOW)


@pytest.mark.parametrize(
    ("reading", "problem"),
    [
        pytest.param(spot(Kind.SYSTOLIC, 120.0), False, id="a-set-clock"),
        pytest.param(spot(Kind.SYSTOLIC, 120.0, flags={Flag.RECEIVE_TIME}), True,
                     id="spot-without-usable-time"),
        pytest.param(spot(Kind.SPO2, 97.0, flags={Flag.DEVICE_CLOCK_NOT_SET, Flag.RECEIVE_TIME}),
                     True, id="device-says-clock-not-set"),
        pytest.param(spot(Kind.SPO2, 97.0, flags={Flag.RECEIVE_TIME}, continuous=True), False,
                     id="continuous-samples-never-carry-a-time"),
    ],
)  # fmt: skip
def test_clock_problems(reading, problem):
    assert has_clock_problem(observe(reading)) is problem


def test_clock_candidates_include_readings_quarantined_in_the_future():
    future = observe(spot(Kind.SYSTOLIC, 120.0, device="cuff-2", at=NOW + timedelta(hours=2)))
    [candidate] = clock_candidates(
        [observe(spot(Kind.SYSTOLIC, 120.0))], measured_in_future=[future]
    )
    assert (candidate.condition, candidate.device_id, candidate.audience) == (
        TechnicalCondition.CLOCK_SKEW,
        "cuff-2",
        Audience.TECHNICAL,
    )
    assert candidate.patient_id is None


@pytest.mark.parametrize(
    ("occurrences", "new", "raised"),
    [
        pytest.param(2, 1, False, id="two-a-day-is-bad-luck"),
        pytest.param(3, 1, True, id="three-a-day-is-a-pattern"),
        pytest.param(5, 0, False, id="nothing-new"),
    ],
)
def test_repeated_measurement_trouble(occurrences, new, raised):
    candidate = repeated_candidate(
        TechnicalCondition.FAILED_MEASUREMENTS,
        "cuff-1",
        occurrences=occurrences,
        new=new,
        first_at=NOW,
        last_at=NOW,
        settings=RULES,
    )
    assert (candidate is not None) is raised


OFFLINE_LIMIT = RULES.gateway_offline_after
FULL = frozenset({GatewayFlag.OUTBOX_FULL})
NO_BLUETOOTH = frozenset({GatewayFlag.BLUETOOTH_UNAVAILABLE})


def gateway(state: str = "online", *, ago=None, depth=None, flags=frozenset()) -> GatewayHealth:
    at = None if ago is None else NOW - ago
    return GatewayHealth(
        gateway_id="gw-1", state=state, status_at=at, outbox_depth=depth, flags=flags
    )


@pytest.mark.parametrize(
    ("health", "conditions"),
    [
        pytest.param(gateway(ago=10 * OFFLINE_LIMIT), [], id="online"),
        pytest.param(gateway("offline", ago=OFFLINE_LIMIT - timedelta(seconds=1)), [],
                     id="offline-just-under-the-limit"),
        pytest.param(gateway("offline", ago=OFFLINE_LIMIT), [TechnicalCondition.GATEWAY_OFFLINE],
                     id="offline-at-the-limit"),
        pytest.param(gateway("unknown"), [], id="never-heard"),
        pytest.param(gateway(ago=timedelta(0), depth=10**6), [],
                     id="a-deep-outbox-is-not-full-until-the-gateway-says-so"),
        pytest.param(gateway(ago=timedelta(0), depth=800_000, flags=FULL),
                     [TechnicalCondition.OUTBOX_FULL], id="outbox-full"),
        pytest.param(gateway(ago=timedelta(0), flags=NO_BLUETOOTH),
                     [], id="bluetooth-unavailable-is-not-an-outbox"),
        pytest.param(gateway("offline", ago=OFFLINE_LIMIT, depth=5, flags=FULL),
                     [TechnicalCondition.GATEWAY_OFFLINE, TechnicalCondition.OUTBOX_FULL],
                     id="offline-keeps-its-last-flags"),
    ],
)  # fmt: skip
def test_gateway_rules(health, conditions):
    found = gateway_candidates([health], now=NOW, settings=RULES)
    assert [c.condition for c in found] == conditions
    assert all(c.count == 0 and c.gateway_id == "gw-1" for c in found)


def test_a_full_outbox_alert_carries_the_depth_when_known():
    [known] = gateway_candidates([gateway(depth=812, flags=FULL)], now=NOW, settings=RULES)
    [unknown] = gateway_candidates([gateway(flags=FULL)], now=NOW, settings=RULES)
    assert (known.worst_value, unknown.worst_value) == (812.0, None)
    assert known.audience is Audience.TECHNICAL


SILENT = RULES.device_silent_after


SKEW = RULES.clock_skew_limit.total_seconds()


def device(*, in_use: bool = True, battery=None, silent=timedelta(0), offset=None) -> DeviceHealth:
    return DeviceHealth(
        device_id="d",
        in_use=in_use,
        battery_percent=battery,
        last_heard=NOW - silent,
        clock_offset_s=offset,
        reported_at=NOW - timedelta(minutes=5),
    )


@pytest.mark.parametrize(
    ("health", "conditions"),
    [
        pytest.param(device(battery=21), [], id="battery-21"),
        pytest.param(device(battery=20), [TechnicalCondition.BATTERY_LOW], id="battery-20"),
        pytest.param(device(silent=SILENT - timedelta(seconds=1)), [], id="heard-within-limit"),
        pytest.param(device(silent=SILENT), [TechnicalCondition.DEVICE_SILENT],
                     id="silent-for-the-limit"),
        pytest.param(device(in_use=False, silent=10 * SILENT), [],
                     id="a-device-on-the-shelf-is-not-silent"),
        pytest.param(device(offset=SKEW), [], id="clock-off-by-the-limit"),
        pytest.param(device(offset=SKEW + 0.5), [TechnicalCondition.CLOCK_SKEW],
                     id="clock-ahead-beyond-the-limit"),
        pytest.param(device(offset=-7200.0), [TechnicalCondition.CLOCK_SKEW],
                     id="clock-two-hours-behind"),
        pytest.param(device(in_use=False, offset=-7200.0), [TechnicalCondition.CLOCK_SKEW],
                     id="a-clock-is-off-on-the-shelf-too"),
        pytest.param(device(offset=None), [], id="clock-never-read"),
    ],
)  # fmt: skip
def test_device_rules(health, conditions):
    assert [c.condition for c in device_candidates([health], now=NOW, settings=RULES)] == conditions


def test_a_clock_skew_alert_says_how_far_off_and_since_when():
    [candidate] = device_candidates([device(offset=-7200.0)], now=NOW, settings=RULES)
    assert (
        candidate.condition,
        candidate.audience,
        candidate.device_id,
        candidate.patient_id,
        candidate.worst_value,
        candidate.direction,
        candidate.first_at,
        candidate.last_at,
        candidate.count,
    ) == (
        TechnicalCondition.CLOCK_SKEW,
        Audience.TECHNICAL,
        "d",
        None,
        7200.0,
        Direction.HIGH,
        NOW - timedelta(minutes=5),
        NOW,
        0,
    )


def test_the_clock_skew_limit_is_a_setting():
    lenient = RuleSettings(clock_skew_limit=timedelta(hours=3))
    assert device_candidates([device(offset=-7200.0)], now=NOW, settings=lenient) == []
    with pytest.raises(ValueError, match="clock_skew_limit must be positive"):
        RuleSettings(clock_skew_limit=timedelta(0))
