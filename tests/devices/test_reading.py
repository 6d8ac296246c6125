"""The Reading value object and its code table."""

from __future__ import annotations

import inspect
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.reading import (
    KIND_CODES,
    AbsentReason,
    Flag,
    Kind,
    Reading,
    Unit,
    prechecked_reading,
)

AT = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def reading(**changes: Any) -> Reading:
    fields: dict[str, Any] = {
        "device_id": "AA:BB:CC:DD:EE:01",
        "kind": Kind.SYSTOLIC,
        "value": 128.0,
        "unit": Unit.MMHG,
        "measured_at": AT,
    }
    return Reading(**(fields | changes))


def test_every_kind_has_codes_and_a_unit():
    assert set(KIND_CODES) == set(Kind)


@pytest.mark.parametrize(
    ("kind", "loinc", "mdc", "unit"),
    [
        pytest.param(Kind.SYSTOLIC, "8480-6", 150021, "mm[Hg]", id="systolic"),
        pytest.param(Kind.DIASTOLIC, "8462-4", 150022, "mm[Hg]", id="diastolic"),
        pytest.param(Kind.MEAN_ARTERIAL_PRESSURE, "8478-0", 150023, "mm[Hg]", id="map"),
        pytest.param(Kind.PULSE_RATE, "8867-4", 149546, "/min", id="pulse"),
        pytest.param(Kind.SPO2, "59408-5", 150456, "%", id="spo2"),
        pytest.param(Kind.PERFUSION_INDEX, None, 150448, "%", id="perfusion-index"),
    ],
)
def test_codes_match_the_published_tables(kind, loinc, mdc, unit):
    """Pinned with literals (clinical.md 2.3, 3.1) so an edit to the table is caught."""
    codes = KIND_CODES[kind]
    assert (codes.loinc, codes.mdc, str(codes.unit)) == (loinc, mdc, unit)


def test_wire_strings_are_the_enum_values():
    assert [str(k) for k in Kind] == [
        "systolic",
        "diastolic",
        "mean_arterial_pressure",
        "pulse_rate",
        "spo2",
        "perfusion_index",
        "cuff_pressure",
    ]


def test_absent_value_needs_a_reason():
    with pytest.raises(ValueError, match="exactly one"):
        reading(value=None)
    with pytest.raises(ValueError, match="exactly one"):
        reading(absent_reason=AbsentReason.NOT_A_NUMBER)
    assert reading(value=None, absent_reason=AbsentReason.NOT_A_NUMBER).value is None


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"measured_at": datetime(2026, 11, 29, 7, 0)}, id="naive-measured-at"),
        pytest.param(
            {"measured_at": AT.astimezone(timezone(timedelta(hours=1)))}, id="non-utc-measured-at"
        ),
        pytest.param({"value": float("nan")}, id="nan-value"),
        pytest.param({"value": float("inf")}, id="infinite-value"),
        pytest.param({"device_id": ""}, id="empty-device"),
        pytest.param({"device_time": AT}, id="aware-device-time"),
        pytest.param({"original_value": 17.0}, id="original-without-unit"),
        pytest.param({"user_id": 256}, id="user-id-over-a-byte"),
    ],
)
def test_invalid_readings_are_refused(changes):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        reading(**changes)


def test_reading_is_immutable():
    r = reading()
    with pytest.raises(AttributeError):
        r.value = 1.0  # type: ignore[misc]


@st.composite
def any_reading(draw: st.DrawFn) -> Reading:
    absent = draw(st.none() | st.sampled_from(AbsentReason))
    original = draw(st.none() | st.tuples(st.floats(-1e6, 1e6), st.sampled_from(Unit)))
    return reading(
        kind=draw(st.sampled_from(Kind)),
        value=None if absent else draw(st.floats(allow_nan=False, allow_infinity=False)),
        absent_reason=absent,
        unit=draw(st.sampled_from(Unit)),
        measured_at=draw(st.datetimes(timezones=st.just(UTC))),
        device_time=draw(st.none() | st.datetimes()),
        flags=draw(st.frozensets(st.sampled_from(Flag))),
        original_value=None if original is None else original[0],
        original_unit=None if original is None else original[1],
        user_id=draw(st.none() | st.integers(0, 0xFF)),
        continuous=draw(st.booleans()),
    )


@given(any_reading())
def test_a_prechecked_reading_equals_the_validated_one(validated):
    built = prechecked_reading(
        **{field.name: getattr(validated, field.name) for field in fields(Reading)}
    )
    assert type(built) is Reading
    assert built == validated
    assert hash(built) == hash(validated)
    with pytest.raises(AttributeError):
        built.value = 1.0  # type: ignore[misc]


def test_prechecked_reading_takes_every_field():
    parameters = inspect.signature(prechecked_reading).parameters
    assert list(parameters) == [field.name for field in fields(Reading)]
