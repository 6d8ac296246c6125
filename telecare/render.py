"""Readings as lines a person reads in a terminal."""

from __future__ import annotations

import dataclasses
import enum

from devices.reading import Reading


def format_value(reading: Reading) -> str:
    if reading.value is None:
        return f"-- ({reading.absent_reason})"
    text = f"{reading.value:g} {reading.unit}"
    if reading.original_value is not None:
        text += f" (sent as {reading.original_value:g} {reading.original_unit})"
    return text


def format_reading(reading: Reading) -> str:
    """``2026-11-29 07:15:00Z  AA:BB:..:01  systolic  128 mm[Hg]  irregular_pulse``"""
    when = reading.measured_at.strftime("%Y-%m-%d %H:%M:%SZ")
    flags = ",".join(sorted(reading.flags))
    return (
        f"{when}  {reading.device_id:<17}  {reading.kind:<22}  {format_value(reading):<28}  {flags}"
    )


def format_record(record: object) -> str:
    """A decoded characteristic record on one line: ``Name(field=value, ...)``, with
    enums as their values and sets as sorted ``a|b`` lists."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        fields = ", ".join(
            f"{f.name}={_plain(getattr(record, f.name))}" for f in dataclasses.fields(record)
        )
        return f"{type(record).__name__}({fields})"
    return _plain(record)


def _plain(value: object) -> str:
    if isinstance(value, frozenset | set):
        return "|".join(sorted(_plain(v) for v in value)) or "none"
    if isinstance(value, enum.Flag):
        return "|".join(m.name.lower() for m in type(value) if m in value and m.name) or "none"
    if isinstance(value, enum.Enum):
        return str(value.value).lower() if isinstance(value.value, str) else value.name.lower()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return format_record(value)
    return str(value)
