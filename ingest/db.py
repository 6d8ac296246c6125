"""Connections to PostgreSQL: the one place ingest imports psycopg.

Everything else in ingest talks to a ``Connection`` it is handed and never imports the
driver (ruff's banned-api rule TID251 holds that). Connection failures are translated
here into ``DatabaseUnavailableError`` so callers need not know psycopg's exceptions.
"""

from __future__ import annotations

from typing import Any, TypeAlias

# The designated database boundary of ingest (STYLE.md rule 1: psycopg behind one module).
import psycopg

from ingest.errors import DatabaseUnavailableError

Connection: TypeAlias = psycopg.Connection[tuple[Any, ...]]

# Shown in pg_stat_activity, so an operator can tell telecare's sessions apart.
APPLICATION_NAME = "telecare"


def connect(
    url: str, *, autocommit: bool = False, application_name: str = APPLICATION_NAME
) -> Connection:
    """Open a connection to the libpq URL ``url`` (e.g. ``TELECARE_DATABASE_URL``)."""
    try:
        return psycopg.connect(url, autocommit=autocommit, application_name=application_name)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot connect to the database: {exc}") from exc


def in_transaction(conn: Connection) -> bool:
    """Whether ``conn`` has a transaction open (idle, active or failed inside one)."""
    return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
