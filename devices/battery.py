"""Battery Level (0x2A19) of the Battery service (0x180F): one byte, a percentage.

GSS ``battery_level.yaml``: uint8, 0-100 %, values 101-255 prohibited. On a Linux
gateway BlueZ's battery plugin claims 0x180F and hides it from the GATT tree; the same
value is then read from ``org.bluez.Battery1.Percentage`` (bleak issues #104 and #393),
and goes through this parser all the same.
"""

from __future__ import annotations

from devices.errors import ParseError

BATTERY_LEVEL_SIZE = 1
BATTERY_LEVEL_MAX = 100  # GSS battery_level.yaml: 101-255 prohibited


def parse_battery_level(data: bytes) -> int:
    """The battery charge in percent (0-100)."""
    if len(data) != BATTERY_LEVEL_SIZE:
        raise ParseError(f"Battery Level is {BATTERY_LEVEL_SIZE} byte, got {len(data)}")
    level = data[0]
    if level > BATTERY_LEVEL_MAX:
        raise ParseError(f"battery level {level} is above {BATTERY_LEVEL_MAX} %", offset=0)
    return level


def encode_battery_level(level: int) -> bytes:
    """The Battery Level value a device (or a simulated one) sends for ``level`` percent."""
    if not 0 <= level <= BATTERY_LEVEL_MAX:
        raise ValueError(f"battery level must be 0-{BATTERY_LEVEL_MAX} %, got {level}")
    return bytes((level,))
