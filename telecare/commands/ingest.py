"""``telecare ingest``: store every gateway's readings from MQTT in PostgreSQL.

Settings come from ``TELECARE_*`` variables (ingest/settings.py lists them); the options
below override the matching variable. Prefer the variable for a URL with a password:
command lines are visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import os

from ingest import settings as settings_module
from ingest.process import configure_logging, serve
from ingest.settings import (
    DATABASE_URL,
    MQTT_CLIENT_ID,
    MQTT_PROTOCOL,
    MQTT_SHARED_GROUP,
    MQTT_URL,
    MqttProtocol,
)

# Option destination -> the variable it overrides.
OVERRIDES = {
    "mqtt_url": MQTT_URL,
    "database_url": DATABASE_URL,
    "shared_group": MQTT_SHARED_GROUP,
    "protocol": MQTT_PROTOCOL,
    "client_id": MQTT_CLIENT_ID,
}


# The settings table of ingest/settings.py's docstring, for --help.
_EPILOG = "environment:" + (settings_module.__doc__ or "").split("\n\n")[1].join(("\n", "\n"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="store readings from MQTT in PostgreSQL",
        description="Consume every gateway's readings (QoS 1, persistent session), store "
        "them idempotently and acknowledge each batch only after its database commit. "
        "Runs until SIGTERM or Ctrl-C, then flushes and disconnects.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mqtt-url", help=f"mqtt[s]://[user[:pw]@]host[:port] ({MQTT_URL})")
    parser.add_argument("--database-url", help=f"libpq URL of PostgreSQL ({DATABASE_URL})")
    parser.add_argument(
        "--shared-group",
        metavar="GROUP",
        help=f"split the stream with other processes of GROUP ({MQTT_SHARED_GROUP})",
    )
    parser.add_argument(
        "--protocol",
        choices=[protocol.value for protocol in MqttProtocol],
        help=f"MQTT version, default 5 ({MQTT_PROTOCOL})",
    )
    parser.add_argument("--client-id", help=f"stable MQTT client id ({MQTT_CLIENT_ID})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    for option, variable in OVERRIDES.items():
        value = getattr(args, option)
        if value is not None:
            environ[variable] = value
    configure_logging()
    return serve(environ)
