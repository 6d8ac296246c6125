"""Apply the schema migrations in ``ingest/migrations`` in order, each exactly once.

A migration is a plain SQL file ``NNNN_name.sql``. ``migrate`` takes a session advisory
lock (so concurrently starting processes migrate one at a time), then applies every file
not yet in ``schema_migrations``, each in its own transaction together with its record
(version, name, SHA-256 of the file, applied_at). An applied file whose text changed, or
an applied version this code does not know, stops it with ``MigrationError``: the
database and the code disagree, and guessing would be worse than stopping.

Settings reach the SQL as transaction-local custom settings (``set_config(name, value,
true)``), which the guarded TimescaleDB migrations read with ``current_setting``. They
take effect when those migrations are applied, never later.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from importlib.resources import files

from ingest.db import Connection, connect
from ingest.errors import MigrationError

log = logging.getLogger(__name__)

MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Key of the session advisory lock: "telecare" in ASCII, a bigint no other tool picks.
LOCK_KEY = int.from_bytes(b"telecare", "big")

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class TimescaleMode(StrEnum):
    """Whether 0007 creates the TimescaleDB extension (the values are what the SQL reads)."""

    AUTO = "auto"
    REQUIRE = "require"
    OFF = "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationSettings:
    """What the TimescaleDB migrations read; None switches a policy off."""

    timescaledb: TimescaleMode = TimescaleMode.AUTO
    compress_after: timedelta | None = timedelta(days=7)
    drop_after: timedelta | None = None

    def __post_init__(self) -> None:
        for name in ("compress_after", "drop_after"):
            value: timedelta | None = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be positive, got {value}")

    def custom_settings(self) -> dict[str, str]:
        """The ``telecare.*`` settings, as text PostgreSQL casts to interval."""

        def interval(value: timedelta | None) -> str:
            if value is None:
                return "off"
            # Days as days, so PostgreSQL shows '7 days', not '168:00:00'.
            return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"

        return {
            "telecare.timescaledb": self.timescaledb.value,
            "telecare.compress_after": interval(self.compress_after),
            "telecare.drop_after": interval(self.drop_after),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> tuple[Migration, ...]:
    """The migrations packaged with ingest, in version order."""
    found = []
    for entry in files("ingest").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = MIGRATION_FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        found.append(
            Migration(
                version=int(match["version"]), name=match["name"], sql=entry.read_text("utf-8")
            )
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return tuple(found)


def migrate(
    conn_or_url: Connection | str,
    *,
    settings: MigrationSettings | None = None,
    migrations: tuple[Migration, ...] | None = None,
) -> list[Migration]:
    """Bring the database up to date; return the migrations applied by this call."""
    if isinstance(conn_or_url, str):
        with connect(conn_or_url, autocommit=True) as conn:
            return _migrate(conn, settings or MigrationSettings(), migrations)
    conn = conn_or_url
    was_autocommit = conn.autocommit
    conn.autocommit = True  # each migration opens its own transaction below
    try:
        return _migrate(conn, settings or MigrationSettings(), migrations)
    finally:
        conn.autocommit = was_autocommit


def _migrate(
    conn: Connection, settings: MigrationSettings, migrations: tuple[Migration, ...] | None
) -> list[Migration]:
    available = load_migrations() if migrations is None else migrations
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    if locked is None or not locked[0]:
        log.info("another process is migrating this database; waiting for it")
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        conn.execute(CREATE_SCHEMA_MIGRATIONS)
        applied: dict[int, str] = dict(
            conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        )
        _check_applied(applied, available)
        pending = [m for m in available if m.version not in applied]
        for migration in pending:
            log.info("applying migration %04d_%s", migration.version, migration.name)
            with conn.transaction():
                for name, value in settings.custom_settings().items():
                    conn.execute("SELECT set_config(%s, %s, true)", (name, value))
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        latest = max([*applied, *(m.version for m in pending)], default=0)
        log.info("database schema at version %04d (%d applied now)", latest, len(pending))
        return pending
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _check_applied(applied: dict[int, str], available: tuple[Migration, ...]) -> None:
    by_version = {m.version: m for m in available}
    for version, checksum in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d} applied, which this code lacks: "
                "it was migrated by a newer telecare"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name}.sql changed after it was applied "
                f"(checksum {checksum[:12]}... in the database, {migration.checksum[:12]}... "
                "in the file): add a new migration instead of editing an applied one"
            )
