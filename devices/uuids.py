"""Bluetooth SIG assigned numbers the device layer understands.

Values from the SIG assigned numbers (assigned_numbers/uuids/service_uuids.yaml and
characteristic_uuids.yaml, ../shared/reference/ble.md 1.3-1.6). A 16-bit UUID stands for
``0000xxxx-0000-1000-8000-00805f9b34fb`` (Core Specification Vol 3 Part B 2.5.1).
"""

from __future__ import annotations

import re
from enum import IntEnum

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_UUID16 = re.compile(r"^(?:0x)?([0-9a-f]{4})$")
_UUID128_SIG = re.compile(r"^0000([0-9a-f]{4})" + re.escape(BASE_UUID_SUFFIX) + "$")


class Service(IntEnum):
    CURRENT_TIME = 0x1805
    DEVICE_INFORMATION = 0x180A
    BATTERY = 0x180F
    BLOOD_PRESSURE = 0x1810
    PULSE_OXIMETER = 0x1822


class Characteristic(IntEnum):
    DATE_TIME = 0x2A08
    LOCAL_TIME_INFORMATION = 0x2A0F
    BATTERY_LEVEL = 0x2A19
    SYSTEM_ID = 0x2A23
    MODEL_NUMBER = 0x2A24
    SERIAL_NUMBER = 0x2A25
    FIRMWARE_REVISION = 0x2A26
    HARDWARE_REVISION = 0x2A27
    SOFTWARE_REVISION = 0x2A28
    MANUFACTURER_NAME = 0x2A29
    CURRENT_TIME = 0x2A2B
    BLOOD_PRESSURE_MEASUREMENT = 0x2A35
    INTERMEDIATE_CUFF_PRESSURE = 0x2A36
    BLOOD_PRESSURE_FEATURE = 0x2A49
    PNP_ID = 0x2A50
    RECORD_ACCESS_CONTROL_POINT = 0x2A52
    PLX_SPOT_CHECK_MEASUREMENT = 0x2A5E
    PLX_CONTINUOUS_MEASUREMENT = 0x2A5F
    PLX_FEATURES = 0x2A60


def uuid128(uuid16: int) -> str:
    """The full 128-bit string form of a 16-bit SIG UUID, as bleak reports it."""
    return f"{uuid16:08x}{BASE_UUID_SUFFIX}"


def sig_uuid16(value: int | str) -> int | None:
    """The 16-bit SIG number for ``0x2A35``, ``"2a35"``, ``"0x2A35"`` or the 128-bit form;
    None for anything else (a vendor UUID or a catalog key)."""
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFF else None
    text = value.strip().lower()
    match = _UUID16.match(text) or _UUID128_SIG.match(text)
    return int(match.group(1), 16) if match else None
