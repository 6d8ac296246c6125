"""The ``telecare`` command: one entry point, one subcommand per job.

Each subcommand lives in ``telecare/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``handler``: a function taking the parsed arguments and
returning the process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from telecare.commands import api, bench, db, decode, demo, gateway, ingest, simulate, users

COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    demo.register,
    simulate.register,
    gateway.register,
    ingest.register,
    api.register,
    db.register,
    users.register,
    decode.register,
    bench.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telecare",
        description="Telemedicine home monitoring: BLE health devices to clinicians.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``telecare simulate | head``): not an error of ours.
        sys.stderr.close()
        return 0


def _version() -> str:
    try:
        return metadata.version("telecare")
    except metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
