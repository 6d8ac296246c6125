"""Technical rules for the fleet, at their edges (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.reading import Flag, Kind
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
FULL = RULES.outbox_full_depth


def gateway(state: str = "online", *, ago=None, depth=None) -> GatewayHealth:
    at = None if ago is None else NOW - ago
    return GatewayHealth(gateway_id="gw-1", state=state, status_at=at, outbox_depth=depth)


@pytest.mark.parametrize(
    ("health", "conditions"),
    [
        pytest.param(gateway(ago=10 * OFFLINE_LIMIT), [], id="online"),
        pytest.param(gateway("offline", ago=OFFLINE_LIMIT - timedelta(seconds=1)), [],
                     id="offline-just-under-the-limit"),
        pytest.param(gateway("offline", ago=OFFLINE_LIMIT), [TechnicalCondition.GATEWAY_OFFLINE],
                     id="offline-at-the-limit"),
        pytest.param(gateway("unknown"), [], id="never-heard"),
        pytest.param(gateway(ago=timedelta(0), depth=FULL - 1), [], id="outbox-nearly-full"),
        pytest.param(gateway(ago=timedelta(0), depth=FULL), [TechnicalCondition.OUTBOX_FULL],
                     id="outbox-full"),
    ],
)  # fmt: skip
def test_gateway_rules(health, conditions):
    found = gateway_candidates([health], now=NOW, settings=RULES)
    assert [c.condition for c in found] == conditions
    assert all(c.count == 0 and c.gateway_id == "gw-1" for c in found)


SILENT = RULES.device_silent_after


def device(*, in_use: bool = True, battery=None, silent=timedelta(0)) -> DeviceHealth:
    return DeviceHealth(
        device_id="d", in_use=in_use, battery_percent=battery, last_heard=NOW - silent
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
    ],
)  # fmt: skip
def test_device_rules(health, conditions):
    assert [c.condition for c in device_candidates([health], now=NOW, settings=RULES)] == conditions
