"""Recognising devices from their advertisements."""

from __future__ import annotations

import pytest

from devices.berrymed import BERRYMED_SERVICE_UUID
from devices.blood_pressure_layout import BEURER_LAYOUT, STANDARD_LAYOUT
from devices.catalog import (
    CATALOG,
    PROFILES,
    SCAN_SERVICE_UUIDS,
    Advertisement,
    Matcher,
    match_profile,
    profile,
)

BLS = "00001810-0000-1000-8000-00805f9b34fb"
PLXS = "00001822-0000-1000-8000-00805f9b34fb"


@pytest.mark.parametrize(
    ("advertisement", "expected"),
    [
        pytest.param(
            Advertisement(local_name="BM85", service_uuids=frozenset({BLS})),
            "beurer-bm",
            id="beurer-name-wins-over-generic-bls",
        ),
        pytest.param(
            Advertisement(local_name="BLEsmart_00000116", service_uuids=frozenset({BLS})),
            "sig-blood-pressure",
            id="omron-by-service",
        ),
        pytest.param(
            Advertisement(service_uuids=frozenset({BLS.upper()})),
            "sig-blood-pressure",
            id="service-uuid-case-insensitive",
        ),
        pytest.param(
            Advertisement(local_name="SpO2", service_uuids=frozenset({PLXS})),
            "sig-pulse-oximeter",
            id="plx-oximeter",
        ),
        pytest.param(
            Advertisement(local_name="BerryMed", service_uuids=frozenset({BERRYMED_SERVICE_UUID})),
            "berrymed-bci",
            id="berrymed",
        ),
        pytest.param(Advertisement(local_name="Thermometer"), None, id="unknown-device"),
        pytest.param(Advertisement(), None, id="empty-advertisement"),
    ],
)
def test_match_profile(advertisement, expected):
    matched = match_profile(advertisement)
    assert (matched.key if matched else None) == expected


def test_quirks_are_data_on_the_profile():
    assert CATALOG["beurer-bm"].blood_pressure_layout is BEURER_LAYOUT
    assert CATALOG["sig-blood-pressure"].blood_pressure_layout is STANDARD_LAYOUT


def test_vendor_profiles_come_before_generic_ones():
    keys = [p.key for p in PROFILES]
    assert keys.index("beurer-bm") < keys.index("sig-blood-pressure")


def test_every_profile_is_found_by_a_scan_filter_or_a_name():
    for p in PROFILES:
        assert any(m.service_uuid in SCAN_SERVICE_UUIDS or m.local_name for m in p.matchers)


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ValueError, match="beurer-bm"):
        profile("omron-x9")


def test_empty_matcher_is_refused():
    with pytest.raises(ValueError, match="at least one field"):
        Matcher()
