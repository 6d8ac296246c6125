"""Signing in, refreshing, signing out, and which bearer tokens are refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from devices.reading import utc_now
from tests.api.conftest import SECRET, bearer, mint
from tests.api.world import PASSWORD


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post(
        "/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


def refresh(client: TestClient, token: str):
    return client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})


def test_password_login_issues_tokens_carrying_organization_and_role(fresh_client, fresh_world_db):
    response = login(fresh_client, "nurse_a")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    world = fresh_world_db.world
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="telecare-api")
    assert claims["sub"] == str(world.users["nurse_a"])
    assert claims["org"] == world.organizations["m1"]
    assert claims["role"] == "nurse"
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    me = fresh_client.get("/me", headers=bearer(body["access_token"]))
    assert me.json() == {
        "user_id": world.users["nurse_a"],
        "username": "nurse_a",
        "display_name": "Nurse A",
        "role": "nurse",
        "organization_id": world.organizations["m1"],
        "patient_id": None,
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [("nurse_a", "wrong password!!"), ("nobody", PASSWORD), ("disabled_a", PASSWORD)],
    ids=["wrong-password", "unknown-user", "disabled-user"],
)
def test_bad_logins_are_401_with_the_problem_shape(fresh_client, username, password):
    response = login(fresh_client, username, password)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"


def test_logins_are_audited_without_a_patient(fresh_client, sql, fresh_world_db):
    login(fresh_client, "nurse_a")
    login(fresh_client, "nurse_a", "wrong password!!")
    rows = sql("SELECT user_id, patient_id, action, outcome, detail FROM audit_log ORDER BY id")
    assert rows == [
        (fresh_world_db.world.users["nurse_a"], None, "login", "success", None),
        (None, None, "login", "denied", {"username": "nurse_a"}),
    ]


def test_login_is_rate_limited_per_user_name(fresh_client):
    for _ in range(5):
        assert login(fresh_client, "nurse_a", "wrong password!!").status_code == 401
    refused = login(fresh_client, "nurse_a")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 900
    # Another user is not locked out by someone guessing nurse_a's password.
    assert login(fresh_client, "clinician_b").status_code == 200


def test_refresh_rotates_and_a_replayed_refresh_token_signs_out_everywhere(fresh_client):
    first = login(fresh_client, "nurse_a").json()
    second = refresh(fresh_client, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert fresh_client.get("/me", headers=bearer(second.json()["access_token"])).status_code == 200
    replay = refresh(fresh_client, first["refresh_token"])
    assert replay.status_code == 401
    # The thief's replay revoked the family, including the legitimately rotated token.
    assert refresh(fresh_client, second.json()["refresh_token"]).status_code == 401


def test_logout_revokes_the_refresh_token(fresh_client):
    tokens = login(fresh_client, "nurse_a").json()
    assert (
        fresh_client.post(
            "/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 204
    )
    assert refresh(fresh_client, tokens["refresh_token"]).status_code == 401


def test_unknown_refresh_token_is_refused(fresh_client):
    assert refresh(fresh_client, "not-a-token").status_code == 401
    assert fresh_client.post("/auth/token", data={"grant_type": "refresh_token"}).status_code == 422


def test_disabling_a_user_stops_their_access_token_at_once(fresh_client, fresh_world_db, sql):
    token = mint(fresh_world_db.world, "nurse_a")
    assert fresh_client.get("/me", headers=bearer(token)).status_code == 200
    sql("UPDATE users SET disabled_at = now() WHERE username = 'nurse_a'")
    assert fresh_client.get("/me", headers=bearer(token)).status_code == 401


def test_a_token_for_a_changed_role_is_stale(fresh_client, fresh_world_db, sql):
    token = mint(fresh_world_db.world, "nurse_a")
    sql("UPDATE users SET role = 'clinician' WHERE username = 'nurse_a'")
    assert fresh_client.get("/me", headers=bearer(token)).status_code == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _alg_none(world) -> str:
    good = jwt.decode(mint(world, "nurse_a"), SECRET, algorithms=["HS256"], audience="telecare-api")
    return f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(good)}."


BAD_TOKENS = {
    "expired": lambda w: mint(w, "nurse_a", now=utc_now() - timedelta(hours=1)),
    "wrong-signature": lambda w: mint(w, "nurse_a", secret="another-secret-0123456789abcdefgh"),
    "alg-none": _alg_none,
    "unknown-issuer": lambda w: mint(w, "nurse_a", issuer="someone-else"),
    "garbage": lambda w: "not.a.jwt",
    "wrong-audience": lambda w: jwt.encode(
        {
            **jwt.decode(mint(w, "nurse_a"), SECRET, algorithms=["HS256"], audience="telecare-api"),
            "aud": "another-api",
        },
        SECRET,
        algorithm="HS256",
        headers={"typ": "at+jwt"},
    ),
    "not-an-access-token": lambda w: jwt.encode(
        jwt.decode(mint(w, "nurse_a"), SECRET, algorithms=["HS256"], audience="telecare-api"),
        SECRET,
        algorithm="HS256",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_bearer_tokens_are_401(client, world, kind):
    response = client.get("/me", headers=bearer(BAD_TOKENS[kind](world)))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_no_token_is_401(client):
    assert client.get("/me").status_code == 401
