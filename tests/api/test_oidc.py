"""Tokens from an external identity provider, verified with its JWKS from a local server."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import OidcSettings
from tests.api.conftest import bearer, mint, settings_for
from tests.api.test_auth import login

ISSUER = "https://idp.region.example/realms/care"
AUDIENCE = "telecare"
KID = "key-1"


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()
    server.server_close()


def external_token(key, subject: str, **changes) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **changes,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
def oidc_client(fresh_world_db, jwks_url, sql):
    sql(
        "UPDATE users SET external_issuer = %s, external_subject = 'abc-123' "
        "WHERE username = 'clinician_a'",
        (ISSUER,),
    )
    oidc = OidcSettings(issuer=ISSUER, jwks_url=jwks_url, audience=AUDIENCE)
    with TestClient(create_app(settings_for(fresh_world_db.url, oidc=oidc))) as client:
        yield client


def test_a_mapped_external_identity_signs_in(oidc_client, key, fresh_world_db):
    me = oidc_client.get("/me", headers=bearer(external_token(key, "abc-123")))
    assert me.status_code == 200
    assert me.json()["user_id"] == fresh_world_db.world.users["clinician_a"]
    patient = fresh_world_db.world.patients["a"]
    assert (
        oidc_client.get(
            f"/patients/{patient}", headers=bearer(external_token(key, "abc-123"))
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "nobody"},
        {"aud": "someone-else"},
        {"exp": int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())},
    ],
    ids=["unmapped-subject", "wrong-audience", "expired"],
)
def test_unacceptable_external_tokens_are_401(oidc_client, key, changes):
    token = external_token(key, changes.pop("sub", "abc-123"), **changes)
    assert oidc_client.get("/me", headers=bearer(token)).status_code == 401


def test_a_token_signed_with_another_key_is_401(oidc_client):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert (
        oidc_client.get("/me", headers=bearer(external_token(stranger, "abc-123"))).status_code
        == 401
    )


def test_the_external_issuer_cannot_use_our_symmetric_algorithm(oidc_client, jwks_url):
    # Algorithm confusion: HS256 "signed" with the public JWKS as the secret.
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "abc-123", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(minutes=5)).timestamp())}  # fmt: skip
    forged = jwt.encode(
        claims, "public-material-" + jwks_url, algorithm="HS256", headers={"kid": KID}
    )
    assert oidc_client.get("/me", headers=bearer(forged)).status_code == 401


def test_admins_give_users_an_external_identity(oidc_client, key, fresh_world_db):
    world = fresh_world_db.world
    admin = bearer(mint(world, "admin_m1"))
    created = oidc_client.post(
        "/users",
        json={
            "username": "nurse_sso",
            "display_name": "Nurse by the region's sign-in",
            "role": "nurse",
            "external_identity": {"issuer": ISSUER, "subject": "sso-1"},
        },
        headers=admin,
    )
    assert created.status_code == 201
    me = oidc_client.get("/me", headers=bearer(external_token(key, "sso-1")))
    assert me.json()["user_id"] == created.json()["id"]
    # No password was set, so none signs in.
    assert login(oidc_client, "nurse_sso", "any twelve characters").status_code == 401

    nurse = world.users["nurse_a"]
    link = {"issuer": ISSUER, "subject": "sso-2"}
    assert (
        oidc_client.put(f"/users/{nurse}/external-identity", json=link, headers=admin).status_code
        == 204
    )
    me = oidc_client.get("/me", headers=bearer(external_token(key, "sso-2")))
    assert me.json()["user_id"] == nurse
    # One external identity names one user; another organization's users are not found.
    taken = {"issuer": ISSUER, "subject": "sso-1"}
    assert (
        oidc_client.put(f"/users/{nurse}/external-identity", json=taken, headers=admin).status_code
        == 409
    )
    foreign = world.users["nurse_c"]
    assert (
        oidc_client.put(f"/users/{foreign}/external-identity", json=link, headers=admin).status_code
        == 404
    )
    nurse_token = bearer(mint(world, "nurse_a"))
    assert (
        oidc_client.put(
            f"/users/{nurse}/external-identity", json=link, headers=nurse_token
        ).status_code
        == 403
    )


def test_a_user_needs_a_way_to_sign_in(oidc_client, fresh_world_db):
    admin = bearer(mint(fresh_world_db.world, "admin_m1"))
    body = {"username": "nobody", "display_name": "Nobody", "role": "nurse"}
    answer = oidc_client.post("/users", json=body, headers=admin)
    assert answer.status_code == 422
    assert "a password, an external identity or both" in answer.text
