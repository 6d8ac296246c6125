"""Decoding cost per reading: characteristic bytes to readings, and MQTT payload to readings.

Floors, run on the same bytes in the same process:
- bytes: ``struct.unpack`` of the characteristic's fixed layout, the least any decoder must
  do to get the fields out (no special values, no validation, no Reading objects);
- payload: ``json.loads`` of the same batch, the least a JSON contract costs.

The payload row is ``decode_readings`` on what ``encode`` writes, which takes the fast
path (gateway.fast_path); a note under the table gives the full decoder on the same
bytes, what any other spelling costs.
"""

from __future__ import annotations

import json
import platform
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devices import decode
from devices.reading import Reading
from gateway.batch import decode_full
from gateway.contract import ReadingsBatch, decode_readings, encode, new_batch_id
from telecare.bench.timing import Timing, time_per_call

RECEIVED = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)

# Every optional field present: the most work per value.
# 0x2A35 flags 0x1E: 120/80/89 mmHg, 2026-11-29 08:15:00, pulse 72, user 1, status.
BLOOD_PRESSURE = bytes.fromhex("1e780050005900ea070b1d080f004800010400")
BLOOD_PRESSURE_LAYOUT = struct.Struct("<BHHHHBBBBBHBH")
# 0x2A5F flags 0x1F: normal, fast and slow pairs, both status fields, PAI.
CONTINUOUS = bytes.fromhex("1fd1034800d0034900d203470080000000002d00")
CONTINUOUS_LAYOUT = struct.Struct("<BHHHHHHHHBH")
BATCH_SIZE = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    name: str
    readings_per_call: int
    subject: Timing
    floor: Timing
    floor_name: str

    @property
    def per_reading_us(self) -> float:
        return self.subject.median / self.readings_per_call * 1e6

    @property
    def floor_per_reading_us(self) -> float:
        return self.floor.median / self.readings_per_call * 1e6

    @property
    def ratio(self) -> float:
        return self.subject.median / self.floor.median


def _batch() -> bytes:
    readings: list[Reading] = []
    for second in range(BATCH_SIZE // 3 + 1):
        readings.extend(
            decode(
                0x2A5F,
                CONTINUOUS,
                device_id="C0:FF:EE:00:00:02",
                received_at=RECEIVED + timedelta(seconds=second),
            )
        )
    batch = ReadingsBatch(
        batch_id=new_batch_id(),
        gateway_id="gw-bench",
        sent_at=RECEIVED,
        readings=tuple(readings[:BATCH_SIZE]),
    )
    return encode(batch)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    rows: list[Row]
    # The full decoder on the batch row's bytes (what any other spelling costs).
    full_decoder: Timing


def measure() -> Measured:
    assert len(BLOOD_PRESSURE) == BLOOD_PRESSURE_LAYOUT.size
    assert len(CONTINUOUS) == CONTINUOUS_LAYOUT.size
    bp_readings = len(decode(0x2A35, BLOOD_PRESSURE, received_at=RECEIVED))
    plx_readings = len(decode(0x2A5F, CONTINUOUS, received_at=RECEIVED))
    payload = _batch()
    rows = [
        Row(
            name="0x2A35 blood pressure, all fields",
            readings_per_call=bp_readings,
            subject=time_per_call(lambda: decode(0x2A35, BLOOD_PRESSURE, received_at=RECEIVED)),
            floor=time_per_call(lambda: BLOOD_PRESSURE_LAYOUT.unpack(BLOOD_PRESSURE)),
            floor_name="struct.unpack",
        ),
        Row(
            name="0x2A5F PLX continuous, all fields",
            readings_per_call=plx_readings,
            subject=time_per_call(lambda: decode(0x2A5F, CONTINUOUS, received_at=RECEIVED)),
            floor=time_per_call(lambda: CONTINUOUS_LAYOUT.unpack(CONTINUOUS)),
            floor_name="struct.unpack",
        ),
        Row(
            name=f"contract.decode_readings, {BATCH_SIZE}-reading batch",
            readings_per_call=BATCH_SIZE,
            subject=time_per_call(lambda: decode_readings(payload)),
            floor=time_per_call(lambda: json.loads(payload)),
            floor_name="json.loads",
        ),
    ]
    return Measured(rows=rows, full_decoder=time_per_call(lambda: decode_full(payload)))


def report(measured: Measured) -> str:
    rows = measured.rows
    batch = rows[-1]
    full = measured.full_decoder.median / batch.readings_per_call * 1e6
    lines = [
        f"Python {platform.python_version()} on {platform.machine()}; "
        "median of 7 rounds, per reading",
        "",
        "| what | µs per reading | floor | floor µs per reading | ratio to floor |",
        "|---|---:|---|---:|---:|",
    ]
    lines += [
        f"| {r.name} | {r.per_reading_us:.2f} | {r.floor_name} | "
        f"{r.floor_per_reading_us:.3f} | {r.ratio:.1f}x |"
        for r in rows
    ]
    lines += [
        "",
        f"Other spellings take the full decoder: {full:.2f} µs per reading on the same "
        f"batch ({measured.full_decoder.median / batch.floor.median:.1f} times json.loads).",
    ]
    return "\n".join(lines)


def run() -> str:
    return report(measure())
