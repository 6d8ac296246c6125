"""``telecare db migrate``: bring the database schema up to date."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ingest import migrate as migrate_module
from ingest.errors import IngestError
from ingest.migrate import MigrationSettings, TimescaleMode, migrate
from ingest.process import one_line
from ingest.settings import DATABASE_URL

EXIT_OK = 0
EXIT_FAILED = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("db", help="manage the database schema")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    migrate_parser = actions.add_parser(
        "migrate",
        help="apply the schema migrations not yet applied",
        description="Apply every migration in ingest/migrations not yet recorded in "
        "schema_migrations, in order, each in its own transaction. Safe to run again and "
        "from several processes at once.",
    )
    migrate_parser.add_argument(
        "--database-url", help=f"libpq URL of PostgreSQL (default: {DATABASE_URL})"
    )
    migrate_parser.add_argument(
        "--timescaledb",
        choices=[mode.value for mode in TimescaleMode],
        default=TimescaleMode.AUTO.value,
        help="use the TimescaleDB extension when available (auto), insist (require) or not",
    )
    migrate_parser.set_defaults(handler=run_migrate)


@contextmanager
def _progress() -> Iterator[None]:
    """Show the runner's log lines ("applying migration 0003_devices") on stderr."""
    logger = logging.getLogger(migrate_module.__name__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def run_migrate(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get(DATABASE_URL)
    if not url:
        print(f"error: give --database-url or set {DATABASE_URL}", file=sys.stderr)
        return EXIT_FAILED
    settings = MigrationSettings(timescaledb=TimescaleMode(args.timescaledb))
    try:
        with _progress():
            applied = migrate(url, settings=settings)
    except IngestError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(applied)} migration(s) applied" if applied else "already up to date")
    return EXIT_OK
