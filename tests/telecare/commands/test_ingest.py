"""``telecare ingest``: options override the environment; start failures exit 2."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from telecare.commands import ingest
from tests.fixtures.mosquitto import free_port
from tests.ingest.gateway_double import GatewayDouble, stream, wait_until

# The command as the lead wires it into ``telecare`` (COMMANDS in telecare/cli.py).
RUN_COMMAND = (
    "import argparse, sys\n"
    "from telecare.commands import ingest\n"
    "parser = argparse.ArgumentParser(prog='telecare')\n"
    "ingest.register(parser.add_subparsers(required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.handler(args))\n"
)


def telecare(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="telecare")
    ingest.register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_options_override_the_environment(database_url, monkeypatch, capsys):
    monkeypatch.setenv("TELECARE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/wrong")
    monkeypatch.setenv("TELECARE_MQTT_URL", "mqtt://127.0.0.1:1")
    port = free_port()
    code = telecare(
        "ingest", "--database-url", database_url, "--mqtt-url", f"mqtt://127.0.0.1:{port}"
    )
    assert code == 2
    assert capsys.readouterr().err.startswith(
        f"error: cannot reach the MQTT broker mqtt://127.0.0.1:{port}: "
    )


def test_a_bad_option_value_is_a_settings_error(database_url, capsys):
    assert telecare("ingest", "--database-url", database_url, "--shared-group", "a/b") == 2
    assert capsys.readouterr().err.startswith("error: bad ingest settings: shared group")


def test_runs_until_sigterm_then_exits_0(database_url, mosquitto, tmp_path):
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_COMMAND, "ingest", "--database-url", database_url,
             "--mqtt-url", mosquitto.url, "--client-id", "cli-test", "--protocol", "3.1.1"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip
    try:
        wait_until(lambda: "event=started" in log.read_text(), what="ingest to start")
        gateway = GatewayDouble(
            mosquitto.host, mosquitto.port, client_id="cli-test-gateway", gateway_ids=["gw-1"]
        )
        batches = stream("gw-1", batches=3, size=10)
        gateway.publish(batches)
        wait_until(lambda: len(gateway.acked_batch_ids()) == 3, what="3 acked batches")
        gateway.close()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0
    text = log.read_text()
    assert "protocol=3.1.1" in text
    assert "client_id=cli-test" in text
    assert "event=stopped received=3" in text
