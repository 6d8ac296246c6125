"""BerryMed BM1000 pulse oximeters: the "BCI protocol" stream.

These oximeters (BM1000, BM1000B/C/E) have no SIG profile. They notify 5-byte packets
on the transparent-UART characteristic of a Microchip/ISSC module, a BM1000C four to a
20-byte notification, some 25 notifications a second (tobiasisenberg/OxiVis
``ESP32-BLE-Oximeter.ino``). Only byte 0 has bit 7 set, which is how a receiver finds
the start of a packet (../shared/reference/ble.md 2.2)::

    b0  1 | pulse beep | probe unplugged | signal | signal strength (4 bits)
    b1  0 | pleth (7 bits)
    b2  0 | pulse rate bit 7 | pulse search | no finger | bar graph (4 bits)
    b3  0 | pulse rate bits 0-6         (pulse rate 255 = invalid)
    b4  0 | SpO2 (7 bits)               (SpO2 127 = invalid)

Sources, which agree on this layout: the vendor's own app zh2x/SpO2-BLE-for-Android
(``DataParser.java``), adafruit/Adafruit_CircuitPython_BLE_BerryMed_Pulse_Oximeter
(``__init__.py``), bgould/berrymed-pulseox-reader (``packet.go``) and
ScheindorfHyenetics/berrymedBluetoothOxymeter (``parser/sp02.py``, bit diagram
``1BPNSSSS|0LLLLLLL|0PRCGGGG|0ppppppp|0XXXXXXX``); the upstream "BCI Protocol V1.2.pdf"
(zh2x/BCI_Protocol) was not read. ehborisov/BerryMed-Pulse-Oximeter-tool was read too
but does not match them (it computes the pulse rate as ``(b3 << 1) + bit``). The
sources disagree on whether the signal bit means "signal" or "no signal", so it stays
a raw bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from devices.clock import resolve_measured_at
from devices.errors import ParseError
from devices.reading import AbsentReason, Flag, Kind, Reading, Unit

# Microchip/ISSC transparent UART (zh2x/SpO2-BLE-for-Android ``Const.java``;
# adafruit_ble_transparent_uart.py).
BERRYMED_SERVICE_UUID = "49535343-fe7d-4ae5-8fa9-9fafd205e455"
BERRYMED_NOTIFY_UUID = "49535343-1e4d-4bd9-ba61-23c647249616"
BERRYMED_WRITE_UUID = "49535343-8841-43f4-a8d4-ecbe34729bb3"

PACKET_SIZE = 5
SYNC_BIT = 0x80  # set in byte 0 only
_SEVEN_BITS = 0x7F
# Byte 0.
_PULSE_BEEP = 0x40
_PROBE_UNPLUGGED = 0x20
_SIGNAL = 0x10
_SIGNAL_STRENGTH = 0x0F
# Byte 2.
_PULSE_RATE_BIT7 = 0x40  # moves to bit 7 of the pulse rate
_PULSE_RATE_BIT7_SHIFT = 1
_PULSE_SEARCH = 0x20
_NO_FINGER = 0x10
_BAR_GRAPH = 0x0F

# The invalid markers (adafruit __init__.py; ScheindorfHyenetics sp02.py: SpO2 "127 when
# no calibration, or nothing between led and photodiode", pulse rate "255 when nothing
# to sense").
SPO2_INVALID = 127
PULSE_RATE_INVALID = 255
_NIBBLE_MAX = 0x0F
_PULSE_RATE_MAX = 0xFF


@dataclass(frozen=True, slots=True, kw_only=True)
class BerryMedPacket:
    """One BCI packet, every field raw as the device sent it."""

    signal_strength: int
    signal: bool
    probe_unplugged: bool
    pulse_beep: bool
    pleth: int
    bar_graph: int
    pulse_search: bool
    no_finger: bool
    pulse_rate: int
    spo2: int

    def __post_init__(self) -> None:
        limits = {
            "signal_strength": _NIBBLE_MAX,
            "bar_graph": _NIBBLE_MAX,
            "pleth": _SEVEN_BITS,
            "spo2": _SEVEN_BITS,
            "pulse_rate": _PULSE_RATE_MAX,
        }
        for name, limit in limits.items():
            if not 0 <= getattr(self, name) <= limit:
                raise ValueError(f"{name} must be 0-{limit}, got {getattr(self, name)}")


def _is_sync(byte: int) -> bool:
    return bool(byte & SYNC_BIT)


def _bit(mask: int, on: bool) -> int:
    return mask if on else 0


def parse_berrymed_packet(data: bytes) -> BerryMedPacket:
    """Decode exactly one packet."""
    if len(data) != PACKET_SIZE:
        raise ParseError(f"a BCI packet is {PACKET_SIZE} bytes, got {len(data)}")
    if not _is_sync(data[0]):
        raise ParseError("byte 0 lacks the sync bit", offset=0)
    for offset in range(1, PACKET_SIZE):
        if _is_sync(data[offset]):
            raise ParseError("sync bit set inside a packet", offset=offset)
    b0, b1, b2, b3, b4 = data
    return BerryMedPacket(
        signal_strength=b0 & _SIGNAL_STRENGTH,
        signal=bool(b0 & _SIGNAL),
        probe_unplugged=bool(b0 & _PROBE_UNPLUGGED),
        pulse_beep=bool(b0 & _PULSE_BEEP),
        pleth=b1,
        bar_graph=b2 & _BAR_GRAPH,
        pulse_search=bool(b2 & _PULSE_SEARCH),
        no_finger=bool(b2 & _NO_FINGER),
        pulse_rate=b3 | (b2 & _PULSE_RATE_BIT7) << _PULSE_RATE_BIT7_SHIFT,
        spo2=b4,
    )


def encode_berrymed_packet(packet: BerryMedPacket) -> bytes:
    """The 5 bytes a device sends for ``packet`` (for simulated devices and tests)."""
    return bytes(
        (
            SYNC_BIT
            | _bit(_PULSE_BEEP, packet.pulse_beep)
            | _bit(_PROBE_UNPLUGGED, packet.probe_unplugged)
            | _bit(_SIGNAL, packet.signal)
            | packet.signal_strength,
            packet.pleth,
            (packet.pulse_rate >> _PULSE_RATE_BIT7_SHIFT) & _PULSE_RATE_BIT7
            | _bit(_PULSE_SEARCH, packet.pulse_search)
            | _bit(_NO_FINGER, packet.no_finger)
            | packet.bar_graph,
            packet.pulse_rate & _SEVEN_BITS,
            packet.spo2,
        )
    )


class BerryMedStream:
    """Cuts a notification stream into packets.

    The one stateful parser in devices/, because the format needs it: BLE notifications
    are not packet-aligned (a packet can start in one notification and end in the next,
    and the first notification after subscribing can start mid-packet), so the partial
    packet at the end of one ``feed`` must wait for the next. Bytes that cannot start a
    packet, and packets cut short by a new sync byte, are skipped and counted in
    ``skipped_bytes`` instead of raising: a live stream has to outlast noise. Use one
    stream per connection.
    """

    __slots__ = ("_tail", "skipped_bytes")

    def __init__(self) -> None:
        self._tail = b""
        self.skipped_bytes = 0

    def feed(self, data: bytes) -> tuple[BerryMedPacket, ...]:
        """The packets completed by ``data``, in order."""
        buffer = self._tail + data
        packets: list[BerryMedPacket] = []
        start = 0
        while start < len(buffer):
            if not _is_sync(buffer[start]):
                start += 1
                self.skipped_bytes += 1
                continue
            end = min(start + PACKET_SIZE, len(buffer))
            # A sync byte inside the window means this packet was cut short.
            cut = next((i for i in range(start + 1, end) if _is_sync(buffer[i])), None)
            if cut is not None:
                self.skipped_bytes += cut - start
                start = cut
            elif end - start < PACKET_SIZE:
                break
            else:
                packets.append(parse_berrymed_packet(buffer[start:end]))
                start = end
        self._tail = buffer[start:]
        return tuple(packets)


# Packet bit -> the flag it puts on both readings.
_PACKET_FLAGS: MappingProxyType[str, Flag] = MappingProxyType(
    {
        "probe_unplugged": Flag.PROBE_UNPLUGGED,
        "no_finger": Flag.NO_FINGER,
        "pulse_search": Flag.PULSE_SEARCH,
    }
)


def _packet_flags(packet: BerryMedPacket) -> frozenset[Flag]:
    return frozenset(flag for bit, flag in _PACKET_FLAGS.items() if getattr(packet, bit))


def berrymed_readings(
    packet: BerryMedPacket, *, device_id: str, received_at: datetime
) -> tuple[Reading, ...]:
    """SpO2 and pulse rate from one packet, as continuous readings at ``received_at``
    (the stream carries no timestamps)."""
    when = resolve_measured_at(None, received_at=received_at)
    flags = when.flags | _packet_flags(packet)

    def reading(kind: Kind, raw: int, invalid: int, unit: Unit) -> Reading:
        valid = raw != invalid
        return Reading(
            device_id=device_id,
            kind=kind,
            value=float(raw) if valid else None,
            absent_reason=None if valid else AbsentReason.DEVICE_INVALID,
            unit=unit,
            measured_at=when.measured_at,
            flags=flags,
            continuous=True,
        )

    return (
        reading(Kind.SPO2, packet.spo2, SPO2_INVALID, Unit.PERCENT),
        reading(Kind.PULSE_RATE, packet.pulse_rate, PULSE_RATE_INVALID, Unit.PER_MINUTE),
    )
