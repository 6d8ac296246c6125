"""``telecare bench``: benchmarks that measure against a floor in the same run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import MappingProxyType

from telecare.bench import alerts, api, decode, gateway, ingest

_EPILOG = """\
ingest: uses TELECARE_DATABASE_URL (a role that may create databases) and
  TELECARE_MQTT_URL when set, else starts a private PostgreSQL (fsync on) and
  Mosquitto for the run. TELECARE_BENCH_READINGS (500000), TELECARE_BENCH_ROUNDS (3)
  and TELECARE_BENCH_PROCESSES (1,2) shorten a run; TELECARE_INGEST_BATCH_SIZE sets
  the readings per transaction of ingest and of the floor.
"""


def _targets() -> MappingProxyType[str, Callable[[], str]]:
    return MappingProxyType(
        {
            "decode": decode.run,
            "ingest": ingest.run,
            "alerts": alerts.run,
            "api": api.run,
            "gateway": gateway.run,
        }
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark against its floor",
        description="Run a benchmark and print a Markdown table for docs/performance.md.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", choices=sorted(_targets()), help="what to measure")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(f"measuring {args.target} ...", flush=True)
    print(_targets()[args.target]())
    return 0
