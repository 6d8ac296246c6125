"""Choosing measured_at from the device clock or the receive time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from devices.clock import MeasuredAt, resolve_measured_at
from devices.reading import Flag

RECEIVED = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
DEVICE = datetime(2026, 11, 29, 8, 15, 0)
COPENHAGEN_WINTER = timezone(timedelta(hours=1))


def test_device_time_is_read_in_the_device_zone():
    assert resolve_measured_at(
        DEVICE, received_at=RECEIVED, device_tz=COPENHAGEN_WINTER
    ) == MeasuredAt(
        measured_at=datetime(2026, 11, 29, 7, 15, tzinfo=UTC),
        device_time=DEVICE,
        flags=frozenset(),
    )


def test_no_device_time_means_receive_time():
    assert resolve_measured_at(None, received_at=RECEIVED) == MeasuredAt(
        measured_at=RECEIVED, device_time=None, flags=frozenset({Flag.RECEIVE_TIME})
    )


def test_clock_not_set_keeps_the_device_time_but_uses_receive_time():
    assert resolve_measured_at(DEVICE, received_at=RECEIVED, clock_not_set=True) == MeasuredAt(
        measured_at=RECEIVED,
        device_time=DEVICE,
        flags=frozenset({Flag.RECEIVE_TIME, Flag.DEVICE_CLOCK_NOT_SET}),
    )


def test_naive_receive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_measured_at(None, received_at=datetime(2026, 11, 29, 7, 30))


def test_missing_receive_time_reads_the_clock():
    before = datetime.now(UTC)
    result = resolve_measured_at(None, received_at=None)
    assert before <= result.measured_at <= datetime.now(UTC)
