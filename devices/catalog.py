"""The device catalog: which devices we know, how to recognise them, how they behave.

Each ``DeviceProfile`` is data: advertisement matchers (as Home Assistant's manifest
``bluetooth`` matchers), the characteristics that carry readings, and the quirks a
session must respect. Adding a device model is adding a profile here (and its parser if
it speaks no SIG profile); the gateway walks this table and never names a vendor.

Profiles are tried in order, vendor quirks before the generic SIG profiles, so a Beurer
BM85 gets its byte-order quirk although it also advertises the Blood Pressure Service.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from devices.berrymed import BERRYMED_NOTIFY_UUID, BERRYMED_SERVICE_UUID
from devices.blood_pressure_layout import (
    BEURER_LAYOUT,
    BEURER_LAYOUT_MODELS,
    STANDARD_LAYOUT,
    BloodPressureLayout,
)
from devices.uuids import Characteristic, Service, uuid128


class DeviceType(StrEnum):
    BLOOD_PRESSURE_MONITOR = "blood_pressure_monitor"
    PULSE_OXIMETER = "pulse_oximeter"


class RecordTransfer(StrEnum):
    """How a device hands over measurements it stored while nobody listened."""

    # BLS 1.0 cuffs (Omron, A&D) indicate stored records as soon as the 0x2A35 CCCD is
    # enabled on a bonded link (../shared/reference/ble.md 1.5, 2.3).
    PUSHED_ON_SUBSCRIBE = "pushed_on_subscribe"
    # PLXS devices with storage answer RACP "report stored records" (ble.md 1.5).
    RACP = "racp"
    # Live streams only; nothing stored.
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertisement:
    """What a scan saw of a device (bleak's AdvertisementData, reduced to what we match)."""

    local_name: str | None = None
    service_uuids: frozenset[str] = frozenset()
    manufacturer_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher:
    """One way to recognise a device; every field given must match."""

    local_name: str | None = None  # fnmatch pattern, case-sensitive
    service_uuid: str | None = None  # 128-bit, lower case
    manufacturer_id: int | None = None  # Bluetooth company identifier

    def __post_init__(self) -> None:
        if self.local_name is None and self.service_uuid is None and self.manufacturer_id is None:
            raise ValueError("a matcher needs at least one field")

    def matches(self, advertisement: Advertisement) -> bool:
        name = advertisement.local_name
        return (
            (
                self.local_name is None
                or (name is not None and fnmatch.fnmatchcase(name, self.local_name))
            )
            and (
                self.service_uuid is None
                or self.service_uuid in {u.lower() for u in advertisement.service_uuids}
            )
            and (
                self.manufacturer_id is None
                or self.manufacturer_id in advertisement.manufacturer_ids
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProfile:
    key: str
    device_type: DeviceType
    description: str
    matchers: tuple[Matcher, ...]
    # Characteristics to subscribe to (notify/indicate) whose values become readings,
    # as 128-bit UUID strings; ``devices.decode`` takes them as they are.
    measurement_characteristics: tuple[str, ...]
    record_transfer: RecordTransfer
    blood_pressure_layout: BloodPressureLayout = STANDARD_LAYOUT
    # Bonding needed before the device talks (Omron, A&D: ble.md 2.3).
    requires_pairing: bool = False
    # The device clock can be set by writing Current Time 0x2A2B (ble.md 2.3).
    sets_clock_via_current_time: bool = True
    source: str = ""

    def matches(self, advertisement: Advertisement) -> bool:
        return any(m.matches(advertisement) for m in self.matchers)


_BLOOD_PRESSURE = uuid128(Service.BLOOD_PRESSURE)
_PULSE_OXIMETER = uuid128(Service.PULSE_OXIMETER)

PROFILES: tuple[DeviceProfile, ...] = (
    DeviceProfile(
        key="beurer-bm",
        device_type=DeviceType.BLOOD_PRESSURE_MONITOR,
        description="Beurer BM-series cuff (BM48, BM85, ELITE900): BLS with a byte-swapped "
        "pulse rate and measurement status",
        matchers=tuple(Matcher(local_name=f"*{model}*") for model in BEURER_LAYOUT_MODELS),
        measurement_characteristics=(uuid128(Characteristic.BLOOD_PRESSURE_MEASUREMENT),),
        record_transfer=RecordTransfer.PUSHED_ON_SUBSCRIBE,
        blood_pressure_layout=BEURER_LAYOUT,
        requires_pairing=True,
        source="derdilla/blood-pressure-monitor-fl commit 3ac8958c (isKnownBigEndianDevice)",
    ),
    DeviceProfile(
        key="berrymed-bci",
        device_type=DeviceType.PULSE_OXIMETER,
        description="BerryMed BM1000-family oximeter: proprietary 5-byte BCI packets on a "
        "transparent-UART characteristic",
        matchers=(
            Matcher(service_uuid=BERRYMED_SERVICE_UUID),
            Matcher(local_name="BerryMed*"),
        ),
        measurement_characteristics=(BERRYMED_NOTIFY_UUID,),
        record_transfer=RecordTransfer.NONE,
        sets_clock_via_current_time=False,
        source="../shared/reference/ble.md 2.2; zh2x/SpO2-BLE-for-Android Const.java",
    ),
    DeviceProfile(
        key="sig-blood-pressure",
        device_type=DeviceType.BLOOD_PRESSURE_MONITOR,
        description="Any cuff speaking the Blood Pressure Service (Omron, A&D, Silvercrest, "
        "Medisana ...)",
        matchers=(Matcher(service_uuid=_BLOOD_PRESSURE),),
        measurement_characteristics=(uuid128(Characteristic.BLOOD_PRESSURE_MEASUREMENT),),
        record_transfer=RecordTransfer.PUSHED_ON_SUBSCRIBE,
        requires_pairing=True,
        source="Bluetooth SIG BLS 1.1.1; ../shared/reference/ble.md 1.3, 2.1",
    ),
    DeviceProfile(
        key="sig-pulse-oximeter",
        device_type=DeviceType.PULSE_OXIMETER,
        description="Any oximeter speaking the Pulse Oximeter Service (ChoiceMMed, Nonin, "
        "Masimo MightySat spot-check ...)",
        matchers=(Matcher(service_uuid=_PULSE_OXIMETER),),
        measurement_characteristics=(
            uuid128(Characteristic.PLX_SPOT_CHECK_MEASUREMENT),
            uuid128(Characteristic.PLX_CONTINUOUS_MEASUREMENT),
        ),
        record_transfer=RecordTransfer.RACP,
        source="Bluetooth SIG PLXS 1.0.1; ../shared/reference/ble.md 1.4, 2.1",
    ),
)

CATALOG: MappingProxyType[str, DeviceProfile] = MappingProxyType({p.key: p for p in PROFILES})

# Services a scan filters on (BlueZ SetDiscoveryFilter UUIDs).
SCAN_SERVICE_UUIDS: tuple[str, ...] = (_BLOOD_PRESSURE, _PULSE_OXIMETER, BERRYMED_SERVICE_UUID)


def match_profile(advertisement: Advertisement) -> DeviceProfile | None:
    """The first profile that recognises the advertisement, or None."""
    return next((p for p in PROFILES if p.matches(advertisement)), None)


def profile(key: str) -> DeviceProfile:
    """The profile named ``key``; ValueError naming the known keys otherwise."""
    try:
        return CATALOG[key]
    except KeyError:
        known = ", ".join(CATALOG)
        raise ValueError(f"unknown device profile {key!r}; known profiles: {known}") from None
