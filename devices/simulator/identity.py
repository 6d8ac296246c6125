"""Who a simulated device says it is: its Bluetooth address and Device Information.

Both come from the seed, so a simulated household keeps its devices across runs and two
seeds give two distinguishable households (different addresses and serial numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from devices.device_information import DeviceInformationString, encode_utf8_string
from devices.simulator.randomness import seeded, whole

# A random static device address has the two most significant bits of its most
# significant octet set (Core Specification Vol 6 Part B 1.3.2.1).
_STATIC_ADDRESS_BITS = 0b11 << 6
_ADDRESS_SIZE = 6
_OCTET_MAX = 0xFF
_SERIAL_DIGITS = 8
_SERIAL_MAX = 10**_SERIAL_DIGITS - 1

MANUFACTURER = "Telecare Simulated Devices"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A device's address (``AA:BB:..``, as BlueZ and bleak print it) and DIS strings."""

    address: str
    manufacturer: str
    model: str
    serial: str
    hardware_revision: str
    firmware_revision: str

    def device_information(self) -> MappingProxyType[int, bytes]:
        """The 0x180A string characteristics: UUID -> the bytes a read returns."""
        return MappingProxyType(
            {
                DeviceInformationString.MANUFACTURER: encode_utf8_string(self.manufacturer),
                DeviceInformationString.MODEL: encode_utf8_string(self.model),
                DeviceInformationString.SERIAL: encode_utf8_string(self.serial),
                DeviceInformationString.HARDWARE_REVISION: encode_utf8_string(
                    self.hardware_revision
                ),
                DeviceInformationString.FIRMWARE_REVISION: encode_utf8_string(
                    self.firmware_revision
                ),
            }
        )


def identity_for(
    seed: int, *, model: str, serial_prefix: str, hardware_revision: str, firmware_revision: str
) -> Identity:
    """The identity of the ``model`` device of the household with ``seed``."""
    rng = seeded(f"{seed}/{model}/identity")
    octets = bytearray(whole(rng, 0, _OCTET_MAX) for _ in range(_ADDRESS_SIZE))
    octets[0] |= _STATIC_ADDRESS_BITS
    return Identity(
        address=":".join(f"{octet:02X}" for octet in octets),
        manufacturer=MANUFACTURER,
        model=model,
        serial=f"{serial_prefix}{whole(rng, 0, _SERIAL_MAX):0{_SERIAL_DIGITS}d}",
        hardware_revision=hardware_revision,
        firmware_revision=firmware_revision,
    )
