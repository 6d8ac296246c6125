"""One entry point from characteristic bytes to readings.

``decode()`` is stateless: one value in, its readings out. ``Decoder`` is the same for a
whole connection and keeps the little state a proprietary stream needs (a BerryMed packet
split across two notifications). ``parse_characteristic()`` gives the typed record of any
characteristic we understand, reading or not (features, RACP, battery, time, device
information), for tools and logs.

``characteristic`` is a 16-bit SIG UUID (``0x2A35``, ``"2a35"``, ``"0x2A35"``), its
128-bit form as bleak reports it, a vendor characteristic UUID from the catalog, or a
catalog profile key for a proprietary stream (``"berrymed-bci"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType

from devices.battery import parse_battery_level
from devices.berrymed import (
    BERRYMED_NOTIFY_UUID,
    PACKET_SIZE,
    BerryMedStream,
    berrymed_readings,
    parse_berrymed_packet,
)
from devices.blood_pressure import (
    parse_blood_pressure_feature,
    parse_blood_pressure_measurement,
    parse_intermediate_cuff_pressure,
)
from devices.blood_pressure_layout import STANDARD_LAYOUT, BloodPressureLayout
from devices.blood_pressure_readings import blood_pressure_readings, cuff_pressure_readings
from devices.catalog import CATALOG, DeviceProfile, profile
from devices.current_time import parse_current_time, parse_local_time_information
from devices.device_information import (
    DeviceInformationString,
    parse_pnp_id,
    parse_system_id,
    parse_utf8_string,
)
from devices.errors import ParseError
from devices.ieee11073 import parse_date_time
from devices.pulse_oximeter import (
    continuous_readings,
    parse_plx_continuous,
    parse_plx_features,
    parse_plx_spot_check,
    spot_check_readings,
)
from devices.racp import parse_racp_response
from devices.reading import Reading, utc_now
from devices.uuids import Characteristic, sig_uuid16

UNKNOWN_DEVICE = "unknown"
BERRYMED_STREAM = "berrymed-bci"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    device_id: str
    received_at: datetime
    device_tz: tzinfo
    profile: DeviceProfile | None


def _layout(ctx: _Context) -> BloodPressureLayout:
    return ctx.profile.blood_pressure_layout if ctx.profile else STANDARD_LAYOUT


def _blood_pressure(data: bytes, ctx: _Context) -> tuple[Reading, ...]:
    return blood_pressure_readings(
        parse_blood_pressure_measurement(data, layout=_layout(ctx)),
        device_id=ctx.device_id,
        received_at=ctx.received_at,
        device_tz=ctx.device_tz,
    )


def _cuff_pressure(data: bytes, ctx: _Context) -> tuple[Reading, ...]:
    return cuff_pressure_readings(
        parse_intermediate_cuff_pressure(data, layout=_layout(ctx)),
        device_id=ctx.device_id,
        received_at=ctx.received_at,
        device_tz=ctx.device_tz,
    )


def _spot_check(data: bytes, ctx: _Context) -> tuple[Reading, ...]:
    return spot_check_readings(
        parse_plx_spot_check(data),
        device_id=ctx.device_id,
        received_at=ctx.received_at,
        device_tz=ctx.device_tz,
    )


def _continuous(data: bytes, ctx: _Context) -> tuple[Reading, ...]:
    return continuous_readings(
        parse_plx_continuous(data),
        device_id=ctx.device_id,
        received_at=ctx.received_at,
        device_tz=ctx.device_tz,
    )


def _berrymed_packets(data: bytes, ctx: _Context) -> tuple[Reading, ...]:
    """Whole packets only: a one-shot value has nobody to hand a partial packet to."""
    if not data or len(data) % PACKET_SIZE:
        raise ParseError(f"BerryMed values are whole {PACKET_SIZE}-byte packets, got {len(data)}")
    readings: list[Reading] = []
    for start in range(0, len(data), PACKET_SIZE):
        try:
            packet = parse_berrymed_packet(data[start : start + PACKET_SIZE])
        except ParseError as exc:
            offset = start + (exc.offset or 0)
            raise ParseError(exc.reason, offset=offset) from exc
        readings.extend(
            berrymed_readings(packet, device_id=ctx.device_id, received_at=ctx.received_at)
        )
    return tuple(readings)


Decode = Callable[[bytes, _Context], tuple[Reading, ...]]

# Characteristics whose values are readings.
READING_DECODERS: MappingProxyType[int | str, Decode] = MappingProxyType(
    {
        Characteristic.BLOOD_PRESSURE_MEASUREMENT: _blood_pressure,
        Characteristic.INTERMEDIATE_CUFF_PRESSURE: _cuff_pressure,
        Characteristic.PLX_SPOT_CHECK_MEASUREMENT: _spot_check,
        Characteristic.PLX_CONTINUOUS_MEASUREMENT: _continuous,
        BERRYMED_NOTIFY_UUID: _berrymed_packets,
        BERRYMED_STREAM: _berrymed_packets,
    }
)

# Characteristics that describe a device rather than measure a patient.
RECORD_PARSERS: MappingProxyType[int, Callable[[bytes], object]] = MappingProxyType(
    {
        Characteristic.BLOOD_PRESSURE_FEATURE: parse_blood_pressure_feature,
        Characteristic.PLX_FEATURES: parse_plx_features,
        Characteristic.RECORD_ACCESS_CONTROL_POINT: parse_racp_response,
        Characteristic.BATTERY_LEVEL: parse_battery_level,
        Characteristic.CURRENT_TIME: parse_current_time,
        Characteristic.LOCAL_TIME_INFORMATION: parse_local_time_information,
        Characteristic.DATE_TIME: lambda data: _whole_date_time(data),
        Characteristic.SYSTEM_ID: parse_system_id,
        Characteristic.PNP_ID: parse_pnp_id,
        **{c.value: parse_utf8_string for c in DeviceInformationString},
    }
)


def _whole_date_time(data: bytes) -> datetime | None:
    if len(data) != 7:
        raise ParseError(f"Date Time is 7 bytes, got {len(data)}")
    return parse_date_time(data, 0)


def characteristic_key(characteristic: int | str) -> int | str:
    """The table key for a characteristic: its 16-bit number for SIG UUIDs, else the
    lower-cased string (a vendor UUID or a catalog key)."""
    number = sig_uuid16(characteristic)
    if number is not None:
        return number
    if isinstance(characteristic, int):
        raise ParseError(f"0x{characteristic:X} is not a 16-bit characteristic UUID")
    return characteristic.strip().lower()


def _context(
    *,
    device_id: str,
    profile_key: str | DeviceProfile | None,
    received_at: datetime | None,
    device_tz: tzinfo,
) -> _Context:
    chosen = profile(profile_key) if isinstance(profile_key, str) else profile_key
    return _Context(
        device_id=device_id,
        received_at=received_at if received_at is not None else utc_now(),
        device_tz=device_tz,
        profile=chosen,
    )


def _name(key: int | str) -> str:
    return f"0x{key:04X}" if isinstance(key, int) else repr(key)


def _decoder_for(key: int | str) -> Decode:
    try:
        return READING_DECODERS[key]
    except KeyError:
        pass
    if key in RECORD_PARSERS:
        raise ParseError(
            f"characteristic {_name(key)} carries no readings; use parse_characteristic() for it"
        )
    raise ParseError(f"characteristic {_name(key)} is not one we can decode")


def decode(
    characteristic: int | str,
    data: bytes,
    *,
    device_id: str = UNKNOWN_DEVICE,
    profile: str | DeviceProfile | None = None,
    received_at: datetime | None = None,
    device_tz: tzinfo = UTC,
) -> tuple[Reading, ...]:
    """The readings in one characteristic value.

    ``profile`` names a catalog profile whose quirks apply (e.g. ``"beurer-bm"``);
    ``received_at`` (tz-aware, default now) dates readings without a device timestamp;
    ``device_tz`` is the zone the device clock is set to. Raises only ``ParseError`` for
    bad bytes or a characteristic that carries no readings, and ``ValueError`` for an
    unknown profile key.
    """
    decoder = _decoder_for(characteristic_key(characteristic))
    ctx = _context(
        device_id=device_id, profile_key=profile, received_at=received_at, device_tz=device_tz
    )
    return decoder(bytes(data), ctx)


def parse_characteristic(characteristic: int | str, data: bytes) -> object:
    """The typed record of a non-reading characteristic (feature, RACP, battery, time,
    device information); ParseError for bad bytes or an unknown characteristic."""
    key = characteristic_key(characteristic)
    if key in READING_DECODERS:
        raise ParseError(f"characteristic {_name(key)} carries readings; use decode() for it")
    if not isinstance(key, int) or key not in RECORD_PARSERS:
        raise ParseError(f"characteristic {_name(key)} is not one we can decode")
    return RECORD_PARSERS[key](bytes(data))


class Decoder:
    """``decode()`` for one connection to one device.

    Holds what a proprietary stream carries over from one notification to the next
    (BerryMed packets are not aligned to notifications). Make one per connection.
    """

    __slots__ = ("_berrymed", "device_id", "device_tz", "profile")

    def __init__(
        self,
        *,
        device_id: str,
        profile: str | DeviceProfile | None = None,
        device_tz: tzinfo = UTC,
    ) -> None:
        self.device_id = device_id
        self.profile = CATALOG[profile] if isinstance(profile, str) else profile
        self.device_tz = device_tz
        self._berrymed = BerryMedStream()

    @property
    def skipped_bytes(self) -> int:
        """Stream bytes dropped while resynchronising (noise, cut packets)."""
        return self._berrymed.skipped_bytes

    def decode(
        self, characteristic: int | str, data: bytes, *, received_at: datetime | None = None
    ) -> tuple[Reading, ...]:
        key = characteristic_key(characteristic)
        if key in (BERRYMED_NOTIFY_UUID, BERRYMED_STREAM):
            at = received_at if received_at is not None else utc_now()
            return tuple(
                reading
                for packet in self._berrymed.feed(bytes(data))
                for reading in berrymed_readings(packet, device_id=self.device_id, received_at=at)
            )
        return decode(
            key,
            data,
            device_id=self.device_id,
            profile=self.profile,
            received_at=received_at,
            device_tz=self.device_tz,
        )
