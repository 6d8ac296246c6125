"""``telecare decode``: decode one characteristic value given as hex, as the gateway would."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta, timezone

from devices import CATALOG, ParseError, decode, parse_characteristic
from devices.decoder import READING_DECODERS, characteristic_key
from telecare.render import format_reading, format_record


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode a characteristic value given as hex",
        description="Decode one Bluetooth characteristic value (hex bytes) into readings, "
        "or into its record for characteristics that carry no readings.",
        epilog="example: telecare decode 2a35 1e780050005900ea070b1d080f004800010400",
    )
    parser.add_argument("characteristic", help="16-bit UUID (2a35), full UUID or catalog key")
    parser.add_argument("hex", nargs="+", help="the value as hex; spaces and colons are ignored")
    parser.add_argument("--profile", choices=sorted(CATALOG), help="device profile quirks")
    parser.add_argument("--device-id", default="unknown", help="device id to put on readings")
    parser.add_argument(
        "--utc-offset",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="zone of the device clock, hours east of UTC (default 0)",
    )
    parser.set_defaults(handler=run)


def _bytes(parts: list[str]) -> bytes:
    text = "".join(parts).replace(":", "").replace(" ", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    return bytes.fromhex(text)


def run(args: argparse.Namespace) -> int:
    try:
        data = _bytes(args.hex)
    except ValueError as exc:
        print(f"error: not hex: {exc}", file=sys.stderr)
        return 2
    device_tz = timezone(timedelta(hours=args.utc_offset))
    try:
        key = characteristic_key(args.characteristic)
        if key in READING_DECODERS:
            for reading in decode(
                key,
                data,
                device_id=args.device_id,
                profile=args.profile,
                received_at=datetime.now(UTC),
                device_tz=device_tz,
            ):
                print(format_reading(reading))
        else:
            print(format_record(parse_characteristic(key, data)))
    except ParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
