"""Test-wide plugins and hooks.

Tests marked ``timescale`` need a TimescaleDB server, which CI does not have: unless
TELECARE_TEST_TIMESCALE names one (a libpq URL whose role may create databases), they
are deselected, not skipped, and the terminal summary says how to run them.

Hypothesis runs with the ``telecare`` profile below.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Speed is measured by benchmarks, never by tests: no per-example deadline and no health
# check that times the data generation, whose verdicts depend on how busy the machine is.
settings.register_profile("telecare", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("telecare")

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.bluez",
    "tests.fixtures.mosquitto",
    "tests.fixtures.amqtt",
]

# Also read by tests/fixtures/postgres.py (not imported here: a plugin module imported
# before pytest registers it escapes assertion rewriting).
TIMESCALE_URL_VARIABLE = "TELECARE_TEST_TIMESCALE"

_TIMESCALE_DESELECTED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(TIMESCALE_URL_VARIABLE):
        return
    deselected = [item for item in items if item.get_closest_marker("timescale")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("timescale")]
    config.stash[_TIMESCALE_DESELECTED] = len(deselected)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    count = config.stash.get(_TIMESCALE_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"{count} test(s) marked 'timescale' deselected: set {TIMESCALE_URL_VARIABLE} "
            "to the URL of a TimescaleDB database to run them"
        )
