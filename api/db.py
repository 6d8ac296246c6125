"""PostgreSQL for the api: the one module that imports psycopg and psycopg_pool.

Everything else receives a ``Connection`` (async, rows as dicts, autocommit: writes open
``conn.transaction()`` explicitly) and never sees the driver. ``create_pool`` builds the
pool the application's lifespan opens and closes; ``connect`` opens a single connection
for the command line. Driver errors that mean something to a caller are translated into
the api's errors by ``translate`` (``api.problem`` calls it for any ``DriverError``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeAlias, TypeVar

# The designated database boundary of the api (STYLE.md rule 1: psycopg behind one module).
import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg.types.range import Range
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from api.errors import ApiError, ConflictError, InvalidError, UnavailableError
from ingest.db import Connection as SyncConnection

Row: TypeAlias = dict[str, Any]
Connection: TypeAlias = psycopg.AsyncConnection[Row]
Pool: TypeAlias = AsyncConnectionPool[Connection]
SyncPool: TypeAlias = ConnectionPool[SyncConnection]
DriverError = psycopg.Error
T = TypeVar("T")
__all__ = [
    "Connection",
    "DriverError",
    "Jsonb",
    "Pool",
    "Range",
    "Row",
    "SyncConnection",
    "SyncPool",
]

# Shown in pg_stat_activity, so an operator can tell the api's sessions apart.
APPLICATION_NAME = "telecare-api"
# Seconds a request waits for a free pooled connection before answering 503.
POOL_TIMEOUT_S = 10.0

_CONNECTION_KWARGS: Mapping[str, Any] = {
    "autocommit": True,
    "row_factory": dict_row,
    "application_name": APPLICATION_NAME,
}

# Driver error -> the api error a caller can act on; constraint names make the message.
_TRANSLATIONS: tuple[tuple[type[psycopg.Error], Callable[[str], ApiError]], ...] = (
    (pg_errors.UniqueViolation, lambda what: ConflictError(f"already exists ({what})")),
    (pg_errors.ExclusionViolation, lambda what: ConflictError(f"overlaps another ({what})")),
    (pg_errors.CheckViolation, lambda what: InvalidError(f"value not allowed ({what})")),
    (pg_errors.ForeignKeyViolation, lambda what: InvalidError(f"refers to nothing ({what})")),
    (pg_errors.NotNullViolation, lambda what: InvalidError(f"value required ({what})")),
    (pg_errors.DataError, lambda what: InvalidError(f"bad value ({what})")),
    (psycopg.OperationalError, lambda what: UnavailableError("the database is unavailable")),
)


def create_pool(url: str, *, max_size: int) -> Pool:
    """A pool for ``url``, not yet open (open it in the application's lifespan)."""
    return AsyncConnectionPool(
        url,
        connection_class=psycopg.AsyncConnection[Row],
        kwargs=dict(_CONNECTION_KWARGS),
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=POOL_TIMEOUT_S,
        check=AsyncConnectionPool.check_connection,
        name="telecare-api",
    )


def create_sync_pool(url: str, *, max_size: int) -> SyncPool:
    """A pool of blocking connections, for ingest's functions (alert lifecycle, monitoring
    plans) that the api reuses rather than rewrites; they run on worker threads."""
    return ConnectionPool(
        url,
        connection_class=psycopg.Connection[tuple[Any, ...]],
        kwargs={"application_name": APPLICATION_NAME},
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=POOL_TIMEOUT_S,
        check=ConnectionPool.check_connection,
        name="telecare-api-sync",
    )


async def in_sync_transaction(pool: SyncPool, work: Callable[[SyncConnection], T]) -> T:
    """Run ``work`` on a worker thread inside one transaction of a pooled connection."""

    def call() -> T:
        try:
            with pool.connection() as conn, conn.transaction():
                return work(conn)
        except PoolTimeout as exc:
            raise UnavailableError("no database connection available") from exc

    return await asyncio.to_thread(call)


@asynccontextmanager
async def pooled(pool: Pool) -> AsyncIterator[Connection]:
    """A connection from ``pool``; a pool that cannot give one is ``UnavailableError``."""
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout as exc:
        raise UnavailableError("no database connection available") from exc


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[Connection]:
    """One connection to ``url`` (the command line's), closed on exit; a constraint the
    work breaks comes out as the api error it means (a duplicate user is a conflict)."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, **_CONNECTION_KWARGS)
    except psycopg.OperationalError as exc:
        raise UnavailableError(f"cannot connect to the database: {exc}") from exc
    async with conn:
        try:
            yield conn
        except psycopg.Error as exc:
            meant = translate(exc)
            if meant is None:
                raise
            raise meant from exc


def translate(exc: psycopg.Error) -> ApiError | None:
    """The api error ``exc`` means, or None for a bug (which becomes a 500)."""
    diag = getattr(exc, "diag", None)
    what = (diag.constraint_name if diag is not None else None) or type(exc).__name__
    for driver_error, make in _TRANSLATIONS:
        if isinstance(exc, driver_error):
            return make(what)
    return None
