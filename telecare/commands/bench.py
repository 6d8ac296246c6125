"""``telecare bench``: benchmarks that measure against a floor in the same run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import MappingProxyType

from telecare.bench import alerts, api, decode, gateway, ingest

_EPILOG = """\
Every benchmark runs with nothing configured. ingest, alerts and api use
TELECARE_DATABASE_URL (a role that may create databases; each run works in a scratch
database) when set, else start a private PostgreSQL (fsync on, as in production);
ingest, alerts and gateway use TELECARE_MQTT_URL when set, else a private Mosquitto.
Private servers are removed afterwards.

Shorter runs for quick iterations:
  ingest   TELECARE_BENCH_READINGS (500000), TELECARE_BENCH_ROUNDS (3),
           TELECARE_BENCH_PROCESSES (1,2); TELECARE_INGEST_BATCH_SIZE sets the
           readings per transaction of ingest and of the floor
  alerts   TELECARE_BENCH_READINGS (300000 per load level),
           TELECARE_BENCH_PROBES (1000, half per load level)
  api      TELECARE_BENCH_OXIMETRY_DAYS (30), TELECARE_BENCH_REQUESTS (400),
           TELECARE_BENCH_PATIENTS (10000), TELECARE_BENCH_CHART_POINTS (1000)
  gateway  TELECARE_BENCH_GATEWAY_SECONDS (180)
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
