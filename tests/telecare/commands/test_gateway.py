"""``telecare gateway run``: clear errors for bad settings; ``--simulate`` end to end."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, time

import pytest

from devices import Kind
from devices.simulator import Routine, Scenario
from gateway.contract import Channel, GatewayState, decode_status, topic
from gateway.simulate import SimulationOptions
from telecare.commands import gateway
from tests.gateway.harness import REPOSITORY, TIMEOUT, StubIngest, retained, wait_until

# The command as the lead wires it into ``telecare`` (COMMANDS in telecare/cli.py).
RUN_COMMAND = (
    "import argparse, sys\n"
    "from telecare.commands import gateway\n"
    "parser = argparse.ArgumentParser(prog='telecare')\n"
    "gateway.register(parser.add_subparsers(required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def telecare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="telecare")
    gateway.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_a_bad_config_names_the_key(tmp_path, capsys):
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nid = "gw-1"\n[ble]\nmax_connections = 99\n')
    assert telecare("gateway", "run", "--config", str(config)) == gateway.EXIT_USAGE
    error = capsys.readouterr().err
    assert f"error: {config}: ble.max_connections: must be 1..8, got 99" in error


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="telecare")
    gateway.register(parser.add_subparsers(required=True))
    return parser.parse_args(("gateway", "run", "--simulate", *argv))


def test_each_household_may_go_through_its_own_scenarios_with_a_history():
    args = parse(
        "--household=normal",
        "--household=hypotension+motion_artefact",
        "--history-days=14",
        "--history-blood-pressure=07:00,19:00",
        "--history-until=2026-11-29T10:00:00+00:00",
    )
    assert gateway._simulation(args) == SimulationOptions(
        households=2,
        household_scenarios=(
            (Scenario.NORMAL,),
            (Scenario.HYPOTENSION, Scenario.MOTION_ARTEFACT),
        ),
        history=Routine(
            days=14,
            blood_pressure=(time(7, 0), time(19, 0)),
            spot_checks=(time(8, 0),),
            until=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
        ),
    )


def test_without_households_every_one_goes_through_the_scenarios_and_has_no_history():
    options = gateway._simulation(parse("--households=3", "--scenario=desaturation"))
    assert [options.scenarios_of(i) for i in range(3)] == [(Scenario.DESATURATION,)] * 3
    assert options.history is None


@pytest.mark.parametrize(
    "argument",
    ["--household=normal+flu", "--history-spot-checks=8am", "--history-until=2026-11-29T10:00"],
    ids=["scenario", "time", "naive-until"],
)
def test_bad_simulation_arguments_are_usage_errors(argument, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(argument)
    assert exit_info.value.code == 2
    assert argument.split("=")[1] in capsys.readouterr().err


def test_a_config_or_simulate_is_needed(capsys):
    assert telecare("gateway", "run") == gateway.EXIT_USAGE
    assert "--config" in capsys.readouterr().err


def test_simulate_delivers_readings_and_stops_cleanly(tmp_path, mosquitto):
    ingest = StubIngest(mosquitto)
    wait_until(ingest.subscribed.is_set, what="the stub ingest")
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "TELECARE_MQTT_URL": mosquitto.url,
        "TELECARE_GATEWAY_STATE_DIR": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_COMMAND, "gateway", "run", "--simulate", "--speed", "60"],
        cwd=REPOSITORY,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: any(r.kind is Kind.SYSTOLIC for r in list(ingest.stored.values())),
            what="a simulated cuff reading",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT) == 0
    finally:
        process.kill()
        ingest.close()
    status = retained(mosquitto, topic(gateway.SIMULATED_GATEWAY_ID, Channel.STATUS))
    assert status is not None
    assert decode_status(status).state is GatewayState.OFFLINE
