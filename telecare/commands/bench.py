"""``telecare bench``: benchmarks that measure against a floor in the same run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import MappingProxyType

from telecare.bench import alerts, api, decode, gateway, ingest


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
    )
    parser.add_argument("target", choices=sorted(_targets()), help="what to measure")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(f"measuring {args.target} ...", flush=True)
    print(_targets()[args.target]())
    return 0
