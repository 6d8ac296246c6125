"""Current Time (0x2A2B) and Local Time Information (0x2A0F): vectors, clock setting, properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.current_time import (
    AdjustReason,
    CurrentTime,
    DayOfWeek,
    DstOffset,
    LocalTimeInformation,
    current_time_for,
    encode_current_time,
    encode_local_time_information,
    local_time_information_for,
    parse_current_time,
    parse_local_time_information,
)
from devices.errors import ParseError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "current_time.json").read_text())
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _params(section: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in VECTORS[section]]


def _current_time(fields: dict[str, Any]) -> CurrentTime:
    return CurrentTime(
        date_time=None
        if fields["date_time"] is None
        else datetime.fromisoformat(fields["date_time"]),
        day_of_week=DayOfWeek(fields["day_of_week"]),
        fractions256=fields["fractions256"],
        adjust_reason=frozenset(AdjustReason(reason) for reason in fields["adjust_reason"]),
    )


@pytest.mark.parametrize("vector", _params("current_time"))
def test_current_time_vector(vector):
    parsed = parse_current_time(bytes.fromhex(vector["hex"]))
    assert parsed == _current_time(vector["expected"])
    assert parsed.day_of_week_matches_date is vector["matches"]


@pytest.mark.parametrize("vector", _params("current_time_invalid"))
def test_invalid_current_time_is_a_parse_error(vector):
    with pytest.raises(ParseError) as caught:
        parse_current_time(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


def test_rfu_adjust_bits_are_not_written_back():
    parsed = parse_current_time(bytes.fromhex("e80706060c042c0480f2"))
    assert encode_current_time(parsed) == bytes.fromhex("e80706060c042c048002")


def test_clock_setting_value_for_a_danish_summer_afternoon():
    now = datetime(2024, 6, 6, 10, 4, 44, 500_000, tzinfo=UTC)
    assert current_time_for(now, tz=COPENHAGEN) == CurrentTime(
        date_time=datetime(2024, 6, 6, 12, 4, 44),
        day_of_week=DayOfWeek.THURSDAY,
        fractions256=128,
        adjust_reason=frozenset({AdjustReason.EXTERNAL_REFERENCE}),
    )
    assert encode_current_time(current_time_for(now, tz=COPENHAGEN)) == bytes.fromhex(
        "e80706060c042c048002"
    )


def test_clock_setting_crosses_midnight_into_the_device_zone():
    now = datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
    assert current_time_for(now, tz=COPENHAGEN, reason=AdjustReason.MANUAL) == CurrentTime(
        date_time=datetime(2025, 1, 1, 0, 30),
        day_of_week=DayOfWeek.WEDNESDAY,
        fractions256=0,
        adjust_reason=frozenset({AdjustReason.MANUAL}),
    )


def test_clock_setting_with_several_reasons_and_utc_default():
    reasons = frozenset({AdjustReason.EXTERNAL_REFERENCE, AdjustReason.TIME_ZONE_CHANGE})
    now = datetime(2024, 3, 31, 1, 0, 0, 999_999, tzinfo=UTC)
    assert current_time_for(now, reason=reasons) == CurrentTime(
        date_time=datetime(2024, 3, 31, 1, 0, 0),
        day_of_week=DayOfWeek.SUNDAY,
        fractions256=255,
        adjust_reason=reasons,
    )


def test_clock_setting_needs_an_aware_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        current_time_for(datetime(2024, 6, 6, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        local_time_information_for(datetime(2024, 6, 6, 12, 0), tz=COPENHAGEN)


def test_records_refuse_values_no_device_could_send():
    with pytest.raises(ValueError, match="naive"):
        CurrentTime(date_time=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="whole seconds"):
        CurrentTime(date_time=datetime(2024, 1, 1, 0, 0, 0, 1))
    with pytest.raises(ValueError, match="fractions256"):
        CurrentTime(date_time=None, fractions256=256)
    with pytest.raises(ValueError, match="year"):
        CurrentTime(date_time=datetime(1500, 1, 1))
    with pytest.raises(ValueError, match="time_zone"):
        LocalTimeInformation(time_zone=57)


@pytest.mark.parametrize("vector", _params("local_time_information"))
def test_local_time_information_vector(vector):
    data = bytes.fromhex(vector["hex"])
    expected = LocalTimeInformation(
        time_zone=vector["time_zone"], dst_offset=DstOffset(vector["dst_offset"])
    )
    parsed = parse_local_time_information(data)
    assert parsed == expected
    assert encode_local_time_information(expected) == data
    minutes = vector["utc_offset_minutes"]
    assert parsed.utc_offset == (None if minutes is None else timedelta(minutes=minutes))


@pytest.mark.parametrize("vector", _params("local_time_information_invalid"))
def test_invalid_local_time_information_is_a_parse_error(vector):
    with pytest.raises(ParseError) as caught:
        parse_local_time_information(bytes.fromhex(vector["hex"]))
    assert caught.value.offset == vector["offset"]


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        pytest.param(
            COPENHAGEN,
            datetime(2024, 7, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=4, dst_offset=DstOffset.DAYLIGHT),
            id="copenhagen-summer",
        ),
        pytest.param(
            COPENHAGEN,
            datetime(2024, 1, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=4, dst_offset=DstOffset.STANDARD),
            id="copenhagen-winter",
        ),
        pytest.param(
            ZoneInfo("Australia/Lord_Howe"),
            datetime(2024, 1, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=42, dst_offset=DstOffset.HALF_HOUR),
            id="lord-howe-half-hour",
        ),
        pytest.param(
            ZoneInfo("Antarctica/Troll"),
            datetime(2024, 7, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=0, dst_offset=DstOffset.DOUBLE_DAYLIGHT),
            id="troll-double-daylight",
        ),
        pytest.param(
            ZoneInfo("Europe/Dublin"),
            datetime(2024, 1, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=0, dst_offset=DstOffset.STANDARD),
            id="dublin-negative-dst-folded",
        ),
        pytest.param(
            timezone(timedelta(hours=-3, minutes=-30)),
            datetime(2024, 1, 1, 12, tzinfo=UTC),
            LocalTimeInformation(time_zone=-14, dst_offset=DstOffset.UNKNOWN),
            id="fixed-offset-dst-unknown",
        ),
    ],
)
def test_local_time_information_for_a_zone(zone, now, expected):
    info = local_time_information_for(now, tz=zone)
    assert info == expected
    assert info.utc_offset in (None, now.astimezone(zone).utcoffset())


def test_local_time_information_refuses_offsets_off_the_quarter_hour():
    with pytest.raises(ValueError, match="15 minutes"):
        local_time_information_for(
            datetime(2024, 1, 1, tzinfo=UTC), tz=timezone(timedelta(minutes=50))
        )


current_times = st.builds(
    CurrentTime,
    date_time=st.none()
    | st.datetimes(min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda value: value.replace(microsecond=0)
    ),
    day_of_week=st.sampled_from(DayOfWeek),
    fractions256=st.integers(0, 255),
    adjust_reason=st.frozensets(st.sampled_from(AdjustReason)),
)
local_time_informations = st.builds(
    LocalTimeInformation,
    time_zone=st.none() | st.integers(-48, 56),
    dst_offset=st.sampled_from(DstOffset),
)


@given(current_times)
def test_current_time_round_trip(current_time):
    assert parse_current_time(encode_current_time(current_time)) == current_time


@given(
    st.datetimes(
        min_value=datetime(1583, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.just(UTC),
    ),
    st.sampled_from([UTC, COPENHAGEN, ZoneInfo("America/St_Johns")]),
)
def test_written_clock_reads_back_as_now_in_the_device_zone(now, zone):
    read_back = parse_current_time(encode_current_time(current_time_for(now, tz=zone)))
    local = now.astimezone(zone)
    assert read_back.date_time == local.replace(tzinfo=None, microsecond=0)
    assert read_back.day_of_week_matches_date
    assert abs(read_back.fractions256 / 256 - local.microsecond / 1e6) < 1 / 256


@given(local_time_informations)
def test_local_time_information_round_trip(info):
    assert parse_local_time_information(encode_local_time_information(info)) == info


@given(st.binary(max_size=14))
def test_arbitrary_bytes_give_a_current_time_or_parse_error(data):
    try:
        result = parse_current_time(data)
    except ParseError:
        return
    assert isinstance(result, CurrentTime)


@given(st.binary(max_size=4))
def test_arbitrary_bytes_give_local_time_information_or_parse_error(data):
    try:
        result = parse_local_time_information(data)
    except ParseError:
        return
    assert isinstance(result, LocalTimeInformation)
