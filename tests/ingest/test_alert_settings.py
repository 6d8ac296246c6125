"""Alerting settings from TELECARE_ALERT_* variables, and the rule settings' own checks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ingest.alert_settings import VARIABLES, AlertSettings
from ingest.rules.settings import RuleSettings
from ingest.settings import SettingsError
from ingest.threshold import Severity


def test_unset_variables_keep_the_defaults():
    assert AlertSettings.from_env({}) == AlertSettings()


def test_variables_override_their_setting():
    settings = AlertSettings.from_env(
        {
            "TELECARE_ALERT_RED_SUSTAINED": "30",
            "TELECARE_ALERT_IRREGULAR_PULSE": "off",
            "TELECARE_ALERT_ESCALATE_AFTER": "600",
            "TELECARE_ALERT_RESOLVE_UNACKNOWLEDGED": "true",
            "TELECARE_WEBHOOK_MAX_ATTEMPTS": "3",
        }
    )
    assert settings.rules.red_sustained == timedelta(seconds=30)
    assert settings.rules.irregular_pulse is None
    assert settings.watchdog.escalate_after == timedelta(minutes=10)
    assert settings.watchdog.resolve_unacknowledged is True
    assert settings.webhooks.max_attempts == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("TELECARE_ALERT_RED_SUSTAINED", "-5", id="negative-seconds"),
        pytest.param("TELECARE_ALERT_IRREGULAR_PULSE", "blue", id="blue-is-for-missing-only"),
        pytest.param("TELECARE_ALERT_RESOLVE_UNACKNOWLEDGED", "maybe", id="not-a-boolean"),
        pytest.param("TELECARE_ALERT_BATTERY_LOW_PERCENT", "120", id="battery-above-100"),
        pytest.param("TELECARE_ALERT_RED_SUSTAINED", "600", id="red-longer-than-yellow"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(SettingsError, match=r"TELECARE_ALERT|bad alert settings"):
        AlertSettings.from_env({name: value})


def test_every_variable_is_documented():
    import ingest.alert_settings as module

    assert all(name in (module.__doc__ or "") for name in VARIABLES)


def test_rule_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="coverage"):
        RuleSettings(min_coverage=0)
    with pytest.raises(ValueError, match="blue"):
        RuleSettings(irregular_pulse=Severity.BLUE)
