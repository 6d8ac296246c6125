"""Fixtures for the web pages: an HTTPS test client (the session cookie is Secure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import WorldDb, settings_for
from tests.api.world import PASSWORD

BASE = "https://testserver"


def sign_in(client: TestClient, name: str) -> TestClient:
    """Sign ``client`` in as seeded user ``name`` through the form."""
    response = client.post(
        "/web/sign-in",
        data={"username": name, "password": PASSWORD, "next": "/web/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def browser_client(fresh_world_db: WorldDb) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(fresh_world_db.url)), base_url=BASE) as client:
        yield client


@pytest.fixture
def signed_in(browser_client: TestClient) -> Callable[[str], TestClient]:
    return lambda name: sign_in(browser_client, name)
