"""The application shell: lifespan, error shape, OpenAPI, health, request ids."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import settings_for


def test_health_answers_ok_with_the_pool_open(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_unknown_path_has_the_problem_shape(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "not_found",
        "detail": "Not Found",
        "errors": [],
    }


def test_request_validation_errors_list_the_fields(client: TestClient) -> None:
    response = client.post("/auth/token", data={"grant_type": "magic"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["errors"][0]["loc"] == ["body", "grant_type"]


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
    )
    made = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_oversized_bodies_are_refused_before_reading(client: TestClient) -> None:
    response = client.post("/auth/logout", content=b"x" * (2 << 20))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_openapi_is_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "telecare api"
    assert "/auth/token" in schema["paths"]


def test_each_app_has_its_own_state(world_db) -> None:
    first = create_app(settings_for(world_db.url))
    second = create_app(settings_for(world_db.url))
    assert first.state.limiter is not second.state.limiter
    with TestClient(first) as one, TestClient(second) as two:
        assert one.get("/health").status_code == two.get("/health").status_code == 200
