"""Bytes from Bluetooth LE health devices to readings: pure, exact, stdlib only.

    from devices import decode
    decode(0x2A35, value, device_id="AA:BB:CC:DD:EE:01")  # -> (Reading, ...)

Parsers for each characteristic live in their own modules (``devices.blood_pressure``,
``devices.pulse_oximeter``, ``devices.racp``, ...); this package exposes the entry points
and the types everything downstream shares.
"""

from devices.catalog import (
    CATALOG,
    Advertisement,
    DeviceProfile,
    DeviceType,
    RecordTransfer,
    match_profile,
)
from devices.decoder import Decoder, decode, parse_characteristic
from devices.errors import ParseError
from devices.reading import (
    KIND_CODES,
    AbsentReason,
    Flag,
    Kind,
    KindCodes,
    Reading,
    Unit,
)

__all__ = [
    "CATALOG",
    "KIND_CODES",
    "AbsentReason",
    "Advertisement",
    "Decoder",
    "DeviceProfile",
    "DeviceType",
    "Flag",
    "Kind",
    "KindCodes",
    "ParseError",
    "Reading",
    "RecordTransfer",
    "Unit",
    "decode",
    "match_profile",
    "parse_characteristic",
]
