"""Device Information (0x180A): who made a device, which model, serial and firmware.

Read once per connection, they let a fleet manager tell an Omron HEM-7155T on firmware
1.2 from one on 1.3. Layouts
(GSS ``*_string.yaml``, ``system_id.yaml``, ``pnp_id.yaml``; ../shared/reference/ble.md 1.6):

- six strings (manufacturer, model, serial, hardware/firmware/software revision), GSS
  ``utf8s``: variable length, no terminator required;
- System ID 0x2A23: an EUI-64 sent least significant octet first, the 40-bit
  manufacturer-defined identifier before the 24-bit OUI;
- PnP ID 0x2A50: vendor ID source u8 (1 Bluetooth SIG, 2 USB-IF), vendor ID u16,
  product ID u16, product version u16.

0x2A2A (IEEE 11073-20601 Regulatory Certification Data List) is an opaque certification
blob that nothing downstream reads; ``device_information_from`` skips it and any other
characteristic it does not know.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from devices.errors import ParseError
from devices.uuids import Characteristic

# Core Specification Vol 3, Part F (ATT) 3.2.9: an attribute value is at most 512 octets.
ATT_MAX_VALUE_SIZE = 512
# The C-string terminator some firmwares keep in the value, often followed by the rest
# of a fixed buffer: Yale-Libs/yalexs-ble PR #94 (lock.py cuts DIS strings at the first
# NUL), alistair23/AutoMower-BLE PR #129 (a 20-byte value padded with NULs).
_NUL = b"\x00"

SYSTEM_ID_SIZE = 8  # GSS system_id.yaml: uint40 manufacturer identifier + uint24 OUI
_SYSTEM_ID_MAX = 2**64 - 1


class DeviceInformationString(IntEnum):
    """The string characteristics of 0x180A; the value is the characteristic's UUID."""

    MANUFACTURER = Characteristic.MANUFACTURER_NAME  # 0x2A29
    MODEL = Characteristic.MODEL_NUMBER  # 0x2A24
    SERIAL = Characteristic.SERIAL_NUMBER  # 0x2A25
    HARDWARE_REVISION = Characteristic.HARDWARE_REVISION  # 0x2A27
    FIRMWARE_REVISION = Characteristic.FIRMWARE_REVISION  # 0x2A26
    SOFTWARE_REVISION = Characteristic.SOFTWARE_REVISION  # 0x2A28


class VendorIdSource(IntEnum):
    """Who assigned a PnP ID's vendor ID (GSS pnp_id.yaml; 0 and 3-255 are RFU)."""

    BLUETOOTH_SIG = 1  # a Bluetooth SIG company identifier
    USB_IF = 2  # a USB Implementers Forum vendor ID


_VENDOR_ID_SOURCES = frozenset(VendorIdSource)
_PNP_ID = struct.Struct("<BHHH")
PNP_ID_SIZE = _PNP_ID.size
_U16_MAX = 0xFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class PnpId:
    """PnP ID 0x2A50: the vendor, product and product version, as USB descriptors have them."""

    vendor_id_source: VendorIdSource
    vendor_id: int
    product_id: int
    version: int

    def __post_init__(self) -> None:
        if self.vendor_id_source not in _VENDOR_ID_SOURCES:
            raise ValueError(f"unknown vendor ID source {self.vendor_id_source!r}")
        for name in ("vendor_id", "product_id", "version"):
            if not 0 <= getattr(self, name) <= _U16_MAX:
                raise ValueError(f"{name} must fit 16 bits, got {getattr(self, name)}")


def parse_pnp_id(data: bytes) -> PnpId:
    if len(data) != PNP_ID_SIZE:
        raise ParseError(f"PnP ID is {PNP_ID_SIZE} bytes, got {len(data)}")
    source, vendor_id, product_id, version = _PNP_ID.unpack(data)
    if source not in _VENDOR_ID_SOURCES:
        raise ParseError(f"vendor ID source {source} is reserved", offset=0)
    return PnpId(
        vendor_id_source=VendorIdSource(source),
        vendor_id=vendor_id,
        product_id=product_id,
        version=version,
    )


def encode_pnp_id(pnp_id: PnpId) -> bytes:
    return _PNP_ID.pack(
        pnp_id.vendor_id_source, pnp_id.vendor_id, pnp_id.product_id, pnp_id.version
    )


def parse_system_id(data: bytes) -> int:
    """The System ID as its EUI-64 integer (the OUI in the top 24 bits)."""
    if len(data) != SYSTEM_ID_SIZE:
        raise ParseError(f"System ID is {SYSTEM_ID_SIZE} bytes, got {len(data)}")
    return int.from_bytes(data, "little")


def encode_system_id(system_id: int) -> bytes:
    if not 0 <= system_id <= _SYSTEM_ID_MAX:
        raise ValueError(f"System ID must fit 64 bits, got {system_id}")
    return system_id.to_bytes(SYSTEM_ID_SIZE, "little")


def parse_utf8_string(data: bytes) -> str:
    """Decode a GSS ``utf8s`` value.

    The text ends at the first NUL: firmwares that copy a C buffer send the terminator
    and whatever followed it, and a NUL could not be stored in a PostgreSQL text column
    anyway. Bytes up to there must be valid UTF-8.
    """
    if len(data) > ATT_MAX_VALUE_SIZE:
        raise ParseError(f"{len(data)} bytes exceed the ATT maximum of {ATT_MAX_VALUE_SIZE}")
    text, _, _padding = data.partition(_NUL)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid UTF-8: {exc.reason}", offset=exc.start) from exc


def encode_utf8_string(text: str) -> bytes:
    encoded = text.encode("utf-8")
    if _NUL in encoded or len(encoded) > ATT_MAX_VALUE_SIZE:
        raise ValueError(f"a utf8s value has no NUL and at most {ATT_MAX_VALUE_SIZE} bytes")
    return encoded


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInformation:
    """What a device says about itself; each field is None when the device has no such
    characteristic (or left it empty)."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None
    system_id: int | None = None
    pnp_id: PnpId | None = None

    def __post_init__(self) -> None:
        for text in (
            self.manufacturer,
            self.model,
            self.serial,
            self.hardware_revision,
            self.firmware_revision,
            self.software_revision,
        ):
            if text is not None:
                encode_utf8_string(text)  # a ValueError for text no device could send
        if self.system_id is not None and not 0 <= self.system_id <= _SYSTEM_ID_MAX:
            raise ValueError(f"system_id must fit 64 bits, got {self.system_id}")


def _text(values: Mapping[int, bytes], characteristic: DeviceInformationString) -> str | None:
    raw = values.get(characteristic)
    return None if raw is None else parse_utf8_string(raw) or None


def device_information_from(values: Mapping[int, bytes]) -> DeviceInformation:
    """Build the record from the characteristic values the gateway read (UUID -> bytes).

    An empty string becomes None. A malformed value is a ParseError for the whole
    record, so a broken device shows up rather than half-described.
    """
    system_id = values.get(Characteristic.SYSTEM_ID)
    pnp_id = values.get(Characteristic.PNP_ID)
    return DeviceInformation(
        manufacturer=_text(values, DeviceInformationString.MANUFACTURER),
        model=_text(values, DeviceInformationString.MODEL),
        serial=_text(values, DeviceInformationString.SERIAL),
        hardware_revision=_text(values, DeviceInformationString.HARDWARE_REVISION),
        firmware_revision=_text(values, DeviceInformationString.FIRMWARE_REVISION),
        software_revision=_text(values, DeviceInformationString.SOFTWARE_REVISION),
        system_id=None if system_id is None else parse_system_id(system_id),
        pnp_id=None if pnp_id is None else parse_pnp_id(pnp_id),
    )
