"""Fixtures for api tests: a seeded world database, an app on it, tokens per user.

The world (tests/api/world.py) is seeded once per session into a template database;
``world_db`` clones it once per module for tests that only read, ``fresh_world_db``
once per test for tests that write. ``client`` runs the app's lifespan (pool open)
on the module's clone; ``fresh_client`` on the test's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.principal import Principal, Role
from api.settings import ApiSettings
from api.token import issue_access_token
from devices.reading import utc_now
from tests.api.world import World, build_world
from tests.fixtures.postgres import PostgresServer, unique_name

SECRET = "telecare-test-secret-0123456789abcdef"


@dataclass(frozen=True, kw_only=True)
class WorldDb:
    url: str
    world: World


def settings_for(url: str, **changes: Any) -> ApiSettings:
    return replace(ApiSettings(database_url=url, secret=SECRET, pool_size=4), **changes)


def mint(
    world: World,
    name: str,
    *,
    now: datetime | None = None,
    ttl: timedelta = timedelta(minutes=15),
    secret: str = SECRET,
    issuer: str = "telecare",
) -> str:
    """An access token for seeded user ``name``, as a login would issue it."""
    role, organization = world.accounts[name]
    principal = Principal(
        user_id=world.users[name],
        username=name,
        display_name=name,
        role=Role(role),
        organization_id=organization,
        patient_id=world.patients["a"] if role == "patient" else None,
    )
    return issue_access_token(
        principal, secret=secret, issuer=issuer, now=now or utc_now(), ttl=ttl
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def world_template(
    postgres_server: PostgresServer, migrated_template: str
) -> Iterator[tuple[str, World]]:
    name = unique_name("telecare_world")
    url = postgres_server.create_database(name, template=migrated_template)
    with psycopg.connect(url) as conn:
        world = build_world(conn)
    try:
        yield name, world
    finally:
        postgres_server.drop_database(name)


def _clone(server: PostgresServer, template: tuple[str, World]) -> Iterator[WorldDb]:
    name = unique_name("telecare_api")
    url = server.create_database(name, template=template[0])
    try:
        yield WorldDb(url=url, world=template[1])
    finally:
        server.drop_database(name)


@pytest.fixture(scope="module")
def world_db(
    postgres_server: PostgresServer, world_template: tuple[str, World]
) -> Iterator[WorldDb]:
    yield from _clone(postgres_server, world_template)


@pytest.fixture
def fresh_world_db(
    postgres_server: PostgresServer, world_template: tuple[str, World]
) -> Iterator[WorldDb]:
    yield from _clone(postgres_server, world_template)


@pytest.fixture(scope="module")
def client(world_db: WorldDb) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(world_db.url))) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(fresh_world_db: WorldDb) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(fresh_world_db.url))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def world(world_db: WorldDb) -> World:
    return world_db.world


@pytest.fixture(scope="module")
def headers(world_db: WorldDb) -> Callable[[str], dict[str, str]]:
    """``headers("nurse_a")``: an Authorization header for that seeded user."""
    return lambda name: bearer(mint(world_db.world, name))


@pytest.fixture
def sql(fresh_world_db: WorldDb) -> Callable[..., list[tuple[Any, ...]]]:
    """``sql("SELECT ...", params)`` on the test's own database (own short connection)."""

    def run(query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(fresh_world_db.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run
