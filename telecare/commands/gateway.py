"""``telecare gateway run``: the home gateway, on real Bluetooth devices or simulated ones.

    telecare gateway run --config /etc/telecare/gateway.toml
    telecare gateway run --simulate                  # simulated household, no Bluetooth
    telecare gateway run --simulate --household normal --household desaturation \
        --history-days 14                            # two households, two weeks stored

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
from datetime import datetime, time
from importlib import metadata
from pathlib import Path
from typing import Any

from devices.simulator.history import Routine
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
# Joins the scenarios of one ``--household``: ``hypotension+motion_artefact``.
HOUSEHOLD_SEPARATOR = "+"


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
    run_parser.add_argument(
        "--household",
        action="append",
        type=_scenarios,
        metavar="SCENARIO[+SCENARIO]",
        help="one simulated household going through these scenarios (repeatable; "
        "replaces --households and --scenario)",
    )
    run_parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="days of earlier measurements the simulated devices hold at start (default 0)",
    )
    run_parser.add_argument(
        "--history-blood-pressure",
        type=_times,
        default=Routine(days=0).blood_pressure,
        metavar="HH:MM[,HH:MM]",
        help="local times the households measured blood pressure in those days",
    )
    run_parser.add_argument(
        "--history-spot-checks",
        type=_times,
        default=Routine(days=0).spot_checks,
        metavar="HH:MM[,HH:MM]",
        help="local times the households took an SpO2 spot-check in those days",
    )
    run_parser.add_argument(
        "--history-until",
        type=_instant,
        metavar="ISO-8601",
        help="the end of those days (with a zone; default: the start)",
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
            collector = simulated(_simulation(args))
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


def _simulation(args: argparse.Namespace) -> SimulationOptions:
    """The simulated households the arguments ask for (ValueError when they are bad)."""
    history = None
    if args.history_days:
        history = Routine(
            days=args.history_days,
            blood_pressure=args.history_blood_pressure,
            spot_checks=args.history_spot_checks,
            until=args.history_until,
        )
    households: tuple[tuple[Scenario, ...], ...] = tuple(args.household or ())
    return SimulationOptions(
        households=len(households) or args.households,
        seed=args.seed,
        speed=args.speed,
        scenarios=tuple(Scenario(s) for s in args.scenario or [Scenario.NORMAL]),
        household_scenarios=households,
        history=history,
    )


def _scenarios(text: str) -> tuple[Scenario, ...]:
    """``hypotension+motion_artefact`` -> the scenarios."""
    try:
        return tuple(Scenario(name) for name in text.split(HOUSEHOLD_SEPARATOR))
    except ValueError:
        names = ", ".join(s.value for s in Scenario)
        raise argparse.ArgumentTypeError(f"{text!r}: scenarios are {names}") from None


def _times(text: str) -> tuple[time, ...]:
    """``07:00,19:00`` -> the times of day."""
    try:
        return tuple(time.fromisoformat(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give times as HH:MM[,HH:MM]") from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the time with its zone")
    return moment


def _version() -> str:
    try:
        return metadata.version("telecare")
    except metadata.PackageNotFoundError:
        return "unknown"
