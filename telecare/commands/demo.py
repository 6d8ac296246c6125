"""``telecare demo``: run the whole platform on this machine, on embedded defaults.

    telecare demo                          # private Mosquitto and PostgreSQL, seeded
    telecare demo --api-port 8080          # pin the api's port (default: 8000 when free)
    TELECARE_DATABASE_URL=... TELECARE_MQTT_URL=... telecare demo   # real services

Starts a broker and a database (unless URLs name real ones), migrates, seeds two
organizations, their users and 20 patients once, then runs ingest, the api and the
simulated gateways until Ctrl-C or SIGTERM. Data, logs, passwords and the pid file live
in the data directory (--data-dir, TELECARE_DEMO_DIR, else ~/.local/share/telecare-demo);
a second run reuses them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ingest.errors import IngestError
from telecare.demo.run import DemoOptions, run

DATA_DIR = "TELECARE_DEMO_DIR"
DATABASE_URL = "TELECARE_DATABASE_URL"
MQTT_URL = "TELECARE_MQTT_URL"
DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "telecare-demo"
EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole platform on embedded defaults",
        description=(__doc__ or "").split("\n\n", 2)[2],
    )
    parser.add_argument(
        "--data-dir", type=Path, help=f"where the demo keeps its state ({DATA_DIR})"
    )
    parser.add_argument("--database-url", help=f"use this PostgreSQL ({DATABASE_URL})")
    parser.add_argument("--mqtt-url", help=f"use this MQTT broker ({MQTT_URL})")
    parser.add_argument("--api-host", default="127.0.0.1", help="address the api listens on")
    parser.add_argument(
        "--api-port", type=int, help="port of the api (default: 8000 when free, else a free one)"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.set_defaults(handler=handle)


def options_for(args: argparse.Namespace) -> DemoOptions:
    data_dir = args.data_dir or Path(os.environ.get(DATA_DIR) or DEFAULT_DATA_DIR)
    return DemoOptions(
        data_dir=data_dir.expanduser(),
        database_url=args.database_url or os.environ.get(DATABASE_URL) or None,
        mqtt_url=args.mqtt_url or os.environ.get(MQTT_URL) or None,
        api_host=args.api_host,
        api_port=args.api_port,
        speed=args.speed,
    )


def handle(args: argparse.Namespace) -> int:
    try:
        return run(options_for(args), out=sys.stdout)
    except (RuntimeError, IngestError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
