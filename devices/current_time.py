"""Current Time (0x2A2B) and Local Time Information (0x2A0F) of the Current Time service.

A gateway reads a device's clock to audit skew and writes it to set the clock: cuffs
that stamp their readings with a wrong clock produce readings at wrong instants (Omron
sets time through CTS, written with response, then LTI: eigger/hass-omron
``setup_time_sync.py``; ../shared/reference/ble.md 2.3).

Current Time, 10 bytes (GSS current_time.yaml, ble.md 1.6)::

    Date Time (7) | Day of Week u8 | Fractions256 u8 | Adjust Reason u8

Day of Week is 1 = Monday ... 7 = Sunday, 0 = unknown, 8-255 RFU (rejected: no device
sends them). A known day of week that disagrees with the date is *accepted* and kept as
sent: the date is what time-keeping uses, and a receiver that rejected the value would
lose the whole clock reading over a redundant field. StanfordSpezi/SpeziBluetooth
(``CurrentTimeTests.swift``, ``testExactTime256``: 2005-12-27, a Tuesday, coded as
Wednesday) round-trips such values too; ``day_of_week_matches_date`` tells them apart.
Impossible dates (31 April) are a ParseError, as in ``devices.ieee11073``. Adjust
Reason bits 4-7 are RFU and ignored.

Local Time Information, 2 bytes: the standard-time offset from UTC in 15-minute steps
(int8, -48..+56, -128 unknown) and the DST offset code (0, 2, 4, 8; 255 unknown), GSS
time_zone.yaml and dst_offset.yaml (PureSwift/Bluetooth ``GATTDstOffset.swift``).
Local time is UTC + time zone + DST offset, so the time zone leaves DST out: hass-omron
writes the whole UTC offset *and* the DST code, counting summer time twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import IntEnum, StrEnum
from types import MappingProxyType

from devices.errors import ParseError
from devices.ieee11073 import (
    DATE_TIME_SIZE,
    YEAR_MAX,
    YEAR_MIN,
    encode_date_time,
    parse_date_time,
)

CURRENT_TIME_SIZE = DATE_TIME_SIZE + 3
_DAY_OF_WEEK_OFFSET = DATE_TIME_SIZE
_FRACTIONS_OFFSET = DATE_TIME_SIZE + 1
_ADJUST_REASON_OFFSET = DATE_TIME_SIZE + 2
FRACTIONS_PER_SECOND = 256  # GSS exact_time_256.yaml: Fractions256, 1/256 s
_MICROSECONDS_PER_SECOND = 1_000_000


class DayOfWeek(IntEnum):
    """GSS day_of_week.yaml; the values match ``datetime.isoweekday()``."""

    UNKNOWN = 0
    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7


class AdjustReason(StrEnum):
    """Why the clock was last adjusted (Adjust Reason, GSS current_time.yaml)."""

    MANUAL = "manual_time_update"
    EXTERNAL_REFERENCE = "external_reference_time_update"
    TIME_ZONE_CHANGE = "change_of_time_zone"
    DST_CHANGE = "change_of_dst"


# Adjust Reason bit -> reason; bits 4-7 are RFU.
ADJUST_REASON_BITS: MappingProxyType[int, AdjustReason] = MappingProxyType(
    {
        0: AdjustReason.MANUAL,
        1: AdjustReason.EXTERNAL_REFERENCE,
        2: AdjustReason.TIME_ZONE_CHANGE,
        3: AdjustReason.DST_CHANGE,
    }
)
_ADJUST_REASON_BIT = {reason: bit for bit, reason in ADJUST_REASON_BITS.items()}
_ADJUST_REASONS = frozenset(AdjustReason)


def _adjust_reasons(raw: int) -> frozenset[AdjustReason]:
    return frozenset(reason for bit, reason in ADJUST_REASON_BITS.items() if raw >> bit & 1)


def _adjust_reason_byte(reasons: frozenset[AdjustReason]) -> int:
    return sum(1 << _ADJUST_REASON_BIT[reason] for reason in reasons)


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentTime:
    """A device clock reading (or the value that sets it).

    ``date_time`` is the device's naive wall clock in whole seconds, None when the
    device says its date is unknown; the sub-second part is ``fractions256``.
    """

    date_time: datetime | None
    day_of_week: DayOfWeek = DayOfWeek.UNKNOWN
    fractions256: int = 0
    adjust_reason: frozenset[AdjustReason] = frozenset()

    def __post_init__(self) -> None:
        if self.date_time is not None:
            if self.date_time.tzinfo is not None:
                raise ValueError("date_time is the device's wall clock and must be naive")
            if self.date_time.microsecond:
                raise ValueError("date_time holds whole seconds; the rest is fractions256")
            if not YEAR_MIN <= self.date_time.year <= YEAR_MAX:
                raise ValueError(f"year {self.date_time.year} cannot be sent as a Date Time")
        if not isinstance(self.day_of_week, DayOfWeek):
            raise ValueError(f"day_of_week must be a DayOfWeek, got {self.day_of_week!r}")
        if not 0 <= self.fractions256 < FRACTIONS_PER_SECOND:
            raise ValueError(f"fractions256 must be 0-255, got {self.fractions256}")
        if not self.adjust_reason <= _ADJUST_REASONS:
            raise ValueError(f"adjust_reason must hold AdjustReasons, got {self.adjust_reason}")

    @property
    def day_of_week_matches_date(self) -> bool:
        """False only when both are known and disagree."""
        if self.date_time is None or self.day_of_week is DayOfWeek.UNKNOWN:
            return True
        return self.date_time.isoweekday() == self.day_of_week


def parse_current_time(data: bytes) -> CurrentTime:
    if len(data) != CURRENT_TIME_SIZE:
        raise ParseError(f"Current Time is {CURRENT_TIME_SIZE} bytes, got {len(data)}")
    date_time = parse_date_time(data, 0)
    day_of_week = data[_DAY_OF_WEEK_OFFSET]
    if day_of_week > DayOfWeek.SUNDAY:
        raise ParseError(f"day of week {day_of_week} is RFU", offset=_DAY_OF_WEEK_OFFSET)
    return CurrentTime(
        date_time=date_time,
        day_of_week=DayOfWeek(day_of_week),
        fractions256=data[_FRACTIONS_OFFSET],
        adjust_reason=_adjust_reasons(data[_ADJUST_REASON_OFFSET]),
    )


def encode_current_time(current_time: CurrentTime) -> bytes:
    return encode_date_time(current_time.date_time) + bytes(
        (
            current_time.day_of_week,
            current_time.fractions256,
            _adjust_reason_byte(current_time.adjust_reason),
        )
    )


def current_time_for(
    now: datetime,
    *,
    tz: tzinfo = UTC,
    reason: AdjustReason | frozenset[AdjustReason] = AdjustReason.EXTERNAL_REFERENCE,
) -> CurrentTime:
    """The Current Time a gateway writes to set a device's clock to ``now``, shown in the
    device's zone ``tz``. The adjust reason defaults to "external reference": the
    gateway's clock is NTP-disciplined, not set by hand."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    return CurrentTime(
        date_time=local.replace(tzinfo=None, microsecond=0),
        day_of_week=DayOfWeek(local.isoweekday()),
        fractions256=local.microsecond * FRACTIONS_PER_SECOND // _MICROSECONDS_PER_SECOND,
        adjust_reason=frozenset({reason}) if isinstance(reason, AdjustReason) else reason,
    )


LOCAL_TIME_INFORMATION_SIZE = 2
TIME_ZONE_STEP = timedelta(minutes=15)  # GSS time_zone.yaml
TIME_ZONE_MIN = -48  # UTC-12:00
TIME_ZONE_MAX = 56  # UTC+14:00
_TIME_ZONE_UNKNOWN = -128


class DstOffset(IntEnum):
    """GSS dst_offset.yaml; every other value is RFU."""

    STANDARD = 0
    HALF_HOUR = 2
    DAYLIGHT = 4
    DOUBLE_DAYLIGHT = 8
    UNKNOWN = 255


# How far each DST code moves the clock; UNKNOWN moves it by an unknown amount.
DST_OFFSETS: MappingProxyType[DstOffset, timedelta | None] = MappingProxyType(
    {
        DstOffset.STANDARD: timedelta(0),
        DstOffset.HALF_HOUR: timedelta(minutes=30),
        DstOffset.DAYLIGHT: timedelta(hours=1),
        DstOffset.DOUBLE_DAYLIGHT: timedelta(hours=2),
        DstOffset.UNKNOWN: None,
    }
)
_DST_CODES = {offset: code for code, offset in DST_OFFSETS.items() if offset is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalTimeInformation:
    """A device's zone: ``time_zone`` is standard time's UTC offset in 15-minute steps
    (None when unknown), ``dst_offset`` the daylight-saving shift on top of it."""

    time_zone: int | None
    dst_offset: DstOffset = DstOffset.STANDARD

    def __post_init__(self) -> None:
        if self.time_zone is not None and not TIME_ZONE_MIN <= self.time_zone <= TIME_ZONE_MAX:
            raise ValueError(f"time_zone must be {TIME_ZONE_MIN}..{TIME_ZONE_MAX} or None")
        if not isinstance(self.dst_offset, DstOffset):
            raise ValueError(f"dst_offset must be a DstOffset, got {self.dst_offset!r}")

    @property
    def utc_offset(self) -> timedelta | None:
        """Local time minus UTC, when both parts are known."""
        dst = DST_OFFSETS[self.dst_offset]
        if self.time_zone is None or dst is None:
            return None
        return self.time_zone * TIME_ZONE_STEP + dst


def parse_local_time_information(data: bytes) -> LocalTimeInformation:
    if len(data) != LOCAL_TIME_INFORMATION_SIZE:
        raise ParseError(
            f"Local Time Information is {LOCAL_TIME_INFORMATION_SIZE} bytes, got {len(data)}"
        )
    time_zone = int.from_bytes(data[:1], "little", signed=True)
    if time_zone != _TIME_ZONE_UNKNOWN and not TIME_ZONE_MIN <= time_zone <= TIME_ZONE_MAX:
        raise ParseError(f"time zone {time_zone} is outside -48..+56", offset=0)
    if data[1] not in DST_OFFSETS:
        raise ParseError(f"DST offset {data[1]} is RFU", offset=1)
    return LocalTimeInformation(
        time_zone=None if time_zone == _TIME_ZONE_UNKNOWN else time_zone,
        dst_offset=DstOffset(data[1]),
    )


def encode_local_time_information(info: LocalTimeInformation) -> bytes:
    time_zone = _TIME_ZONE_UNKNOWN if info.time_zone is None else info.time_zone
    return time_zone.to_bytes(1, "little", signed=True) + bytes((info.dst_offset,))


def local_time_information_for(now: datetime, *, tz: tzinfo) -> LocalTimeInformation:
    """The Local Time Information that goes with ``current_time_for(now, tz=tz)``.

    A DST shift LTI cannot express (Europe/Dublin's negative winter "DST" in tzdata)
    is folded into the time zone, so the device still shows the right local time.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    utc_offset = local.utcoffset() or timedelta(0)
    dst = local.dst()
    code = DstOffset.UNKNOWN if dst is None else _DST_CODES.get(dst, DstOffset.STANDARD)
    standard = utc_offset - (DST_OFFSETS[code] or timedelta(0))
    steps, rest = divmod(standard, TIME_ZONE_STEP)
    if rest:
        raise ValueError(f"UTC offset {standard} is not a whole number of 15 minutes")
    return LocalTimeInformation(time_zone=steps, dst_offset=code)
