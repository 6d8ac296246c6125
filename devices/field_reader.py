"""Reading a characteristic's fields in wire order, the optional ones as its flags say.

Used by the PLX parsers (``devices.pulse_oximeter``, ``devices.pulse_oximeter_features``),
whose values are a flags field followed by fields each present only when its bit is set.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntFlag

from devices.errors import ParseError
from devices.ieee11073 import (
    DATE_TIME_SIZE,
    SFLOAT_SIZE,
    Number,
    Timestamp,
    parse_date_time,
    parse_sfloat,
)
from devices.pulse_oximeter_status import StatusField
from devices.reading import Flag


def defined_bits(flags: type[IntFlag]) -> int:
    """Every bit ``flags`` names; the others are RFU."""
    return sum(member.value for member in flags)


class FieldReader:
    """Reads wire fields in order from ``offset`` on, the optional ones only when
    ``flags`` has their bit set.

    A field that does not fit is a devices.errors.ParseError at the byte where it starts.
    """

    __slots__ = ("data", "flags", "offset")

    def __init__(self, data: bytes, offset: int, *, flags: int = 0) -> None:
        self.data = data
        self.offset = offset
        self.flags = flags

    def has(self, flag: int) -> bool:
        """Whether the flags announce the field of ``flag``."""
        return bool(self.flags & flag)

    def sfloat(self) -> Number:
        value = parse_sfloat(self.data, self.offset)
        self.offset += SFLOAT_SIZE
        return value

    def optional_sfloat(self, flag: int) -> Number | None:
        return self.sfloat() if self.has(flag) else None

    def timestamp(self, flag: int) -> datetime | Timestamp | None:
        """A Date Time when ``flag`` is set: ``Timestamp.UNKNOWN`` if it says "unknown"."""
        if not self.has(flag):
            return None
        value = parse_date_time(self.data, self.offset)
        self.offset += DATE_TIME_SIZE
        return Timestamp.UNKNOWN if value is None else value

    def uint(self, size: int, what: str) -> int:
        """A little-endian unsigned integer of ``size`` bytes, named ``what`` in errors."""
        end = self.offset + size
        if len(self.data) < end:
            left = len(self.data) - self.offset
            raise ParseError(f"{what} needs {size} bytes, only {left} left", offset=self.offset)
        value = int.from_bytes(self.data[self.offset : end], "little")
        self.offset = end
        return value

    def status(self, field: StatusField, flag: int) -> frozenset[Flag] | None:
        return field.decode(self.uint(field.size, field.name)) if self.has(flag) else None

    def finish(self) -> None:
        """Refuse bytes left over after the last field the flags announce."""
        if self.offset != len(self.data):
            extra = len(self.data) - self.offset
            raise ParseError(
                f"{extra} trailing byte(s) the flags do not announce", offset=self.offset
            )
