"""``telecare gateway run``: the home gateway, on real Bluetooth devices or simulated ones.

    telecare gateway run --config /etc/telecare/gateway.toml
    telecare gateway run --simulate                  # simulated household, no Bluetooth

Settings come from the file and ``TELECARE_*`` variables (gateway.settings); a bad one
stops the command with exit code 2 and names the key. SIGTERM and SIGINT stop the
gateway cleanly: it publishes a retained "offline" status and closes the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from devices.simulator.scenario import Scenario
from gateway.ble import BluetoothUnavailable
from gateway.service import CollectorFactory, Gateway, ble_collector
from gateway.settings import GatewaySettings, SettingsError, load_settings
from gateway.simulate import SimulationOptions, simulated

# Exit codes: 1 the gateway could not run (no Bluetooth), 2 a usage or settings error.
EXIT_FAILED = 1
EXIT_USAGE = 2
# A simulated gateway's id and state directory when nothing else names them.
SIMULATED_GATEWAY_ID = "gw-sim"
SIMULATED_STATE_DIR = Path.home() / ".local" / "state" / "telecare-gateway-sim"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="run the home gateway",
        description="The home gateway: Bluetooth health devices to MQTT, through a durable outbox.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    run_parser = actions.add_parser(
        "run",
        help="collect readings and publish them until stopped",
        epilog="example: telecare gateway run --config /etc/telecare/gateway.toml",
    )
    run_parser.add_argument("--config", type=Path, help="the gateway's TOML settings file")
    run_parser.add_argument(
        "--simulate", action="store_true", help="simulated devices instead of Bluetooth"
    )
    run_parser.add_argument(
        "--households",
        type=int,
        default=1,
        help="simulated households (a cuff and an oximeter each)",
    )
    run_parser.add_argument("--seed", type=int, default=1, help="seed of the first household")
    run_parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    run_parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.value for s in Scenario],
        help="what the simulated patients go through (repeatable)",
    )
    run_parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING ...")
    run_parser.set_defaults(handler=run)


def settings_for(args: argparse.Namespace) -> GatewaySettings:
    """The settings the command runs with (SettingsError when they are bad)."""
    overrides: dict[str, Any] = {}
    if args.simulate and args.config is None:
        if "TELECARE_GATEWAY_ID" not in os.environ:
            overrides["gateway_id"] = SIMULATED_GATEWAY_ID
        if "TELECARE_GATEWAY_STATE_DIR" not in os.environ:
            overrides["state_dir"] = SIMULATED_STATE_DIR
    return load_settings(args.config, **overrides)


def run(args: argparse.Namespace) -> int:
    if args.config is None and not args.simulate:
        print("error: give --config FILE (or --simulate)", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = settings_for(args)
        collector: CollectorFactory = ble_collector
        if args.simulate:
            collector = simulated(
                SimulationOptions(
                    households=args.households,
                    seed=args.seed,
                    speed=args.speed,
                    scenarios=tuple(Scenario(s) for s in args.scenario or [Scenario.NORMAL]),
                )
            )
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    gateway = Gateway(settings, collector=collector, software_version=_version())
    try:
        asyncio.run(_serve(gateway))
    except BluetoothUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


async def _serve(gateway: Gateway) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        try:
            await gateway.run()
        except* BluetoothUnavailable as group:
            raise group.exceptions[0] from None
    except asyncio.CancelledError:
        logging.getLogger(__name__).info("stopped by a signal")


def _version() -> str:
    try:
        return metadata.version("telecare")
    except metadata.PackageNotFoundError:
        return "unknown"
