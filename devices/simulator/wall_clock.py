"""A simulated device's wall clock: naive, settable, optionally drifting.

A real cuff or oximeter keeps local wall time in whole seconds with no zone, counts from
a firmware default after a battery change until someone sets it, and gains or loses a
few seconds a week. ``WallClock`` models exactly that, with every reading taken at an
explicit ``now`` (no hidden wall-clock reads), so simulations stay reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from devices.current_time import parse_current_time
from devices.errors import ParseError

# Where an unset clock starts counting at power-on: a firmware choice. 2000-01-01 is also
# the "Epoch Start 2000" option of BLS 1.1's Enhanced Blood Pressure Measurement
# (../shared/reference/ble.md 1.3), and far enough from any real date that a timestamp
# taken from it is obviously wrong.
UNSET_EPOCH = datetime(2000, 1, 1)  # noqa: DTZ001 - a device wall clock has no zone

_PPM = 1e-6


def wall_time(now: datetime, *, tz: tzinfo = UTC) -> datetime:
    """What a correctly set device clock in zone ``tz`` shows at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).replace(tzinfo=None, microsecond=0)


class WallClock:
    """A device clock. ``is_set`` is False until ``set`` is called on a clock that started
    unset (it then counts from ``UNSET_EPOCH`` since power-on)."""

    __slots__ = ("_drift", "_set_at", "_wall_at_set", "is_set")

    def __init__(
        self, *, powered_on: datetime, wall: datetime | None, drift_ppm: float = 0.0
    ) -> None:
        """``wall`` is what the clock shows at ``powered_on``; None for an unset clock."""
        if powered_on.tzinfo is None:
            raise ValueError("powered_on must be timezone-aware")
        self._drift = 1 + drift_ppm * _PPM
        self._set_at = powered_on
        self._wall_at_set = UNSET_EPOCH if wall is None else _naive(wall)
        self.is_set = wall is not None

    def read(self, now: datetime) -> datetime:
        """The wall time the device shows at ``now``, in whole seconds."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return (self._wall_at_set + (now - self._set_at) * self._drift).replace(microsecond=0)

    def set(self, wall: datetime, *, now: datetime) -> None:
        """Set the clock to show ``wall`` at ``now`` (a Current Time write)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._set_at = now
        self._wall_at_set = _naive(wall)
        self.is_set = True

    def write_current_time(self, data: bytes, *, now: datetime) -> None:
        """A collector wrote Current Time (0x2A2B) at ``now``: set the clock to it.

        ParseError for bytes that are no Current Time, or one whose date is "unknown"
        (a device refuses such a write).
        """
        current_time = parse_current_time(data)
        if current_time.date_time is None:
            raise ParseError("a Current Time with an unknown date cannot set a clock", offset=0)
        self.set(current_time.date_time, now=now)


def _naive(wall: datetime) -> datetime:
    if wall.tzinfo is not None:
        raise ValueError("a device wall clock is naive")
    return wall
