"""``telecare api``: serve the clinician and fleet api with uvicorn.

Settings come from ``TELECARE_*`` variables (api/settings.py lists them); the options
below override host and port. One process; run several behind a load balancer to use
more cores (live streams and Bulk Data jobs belong to the process that serves them).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import uvicorn

from api import settings as settings_module
from api.app import create_app
from api.settings import HOST, PORT, ApiSettings, SettingsError

EXIT_FAILED = 2
_EPILOG = "environment:" + (settings_module.__doc__ or "").split("\n\n")[1].join(("\n", "\n"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve the clinician and fleet api",
        description="Serve the HTTP api (OpenAPI at /docs, FHIR R4 at /fhir) until SIGTERM.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help=f"address to listen on ({HOST})")
    parser.add_argument("--port", type=int, help=f"port to listen on ({PORT})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.host is not None:
        environ[HOST] = args.host
    if args.port is not None:
        environ[PORT] = str(args.port)
    return serve(environ)


def serve(environ: Mapping[str, str]) -> int:
    try:
        settings = ApiSettings.from_env(environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # Forwarded headers only from a proxy on this machine (uvicorn's default).
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(serve(os.environ))
