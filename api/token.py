"""Access tokens (JWT) and refresh tokens (opaque), and checking what a caller presents.

Access tokens this api issues are JWTs signed with HS256 (RFC 7518 3.2), typed
``at+jwt`` (RFC 9068 section 2.1), carrying the user, organization and role::

    {"iss": "telecare", "aud": "telecare-api", "sub": "42", "org": 7,
     "role": "nurse", "iat": ..., "exp": ..., "jti": "..."}

Verification names its one algorithm explicitly, so ``alg: none`` and algorithm
confusion are rejected (RFC 8725 sections 2.1 and 3.1; RFC 7519 erratum 5906).
Tokens of an external OIDC issuer are verified with that issuer's JWKS keys and
asymmetric algorithms only, and name the user by (issuer, subject); the api maps them
to a telecare user (users.external_issuer/external_subject). Which verifier applies is
decided by the unverified ``iss``, and each verifier then checks ``iss`` itself.

Refresh tokens are 256-bit random strings; the database keeps only their SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from api.errors import AuthenticationError
from api.principal import Principal, Role
from api.settings import OidcSettings

# The audience of the api's own access tokens.
AUDIENCE = "telecare-api"
# RFC 9068 section 2.1: the "typ" header of a JWT access token.
ACCESS_TOKEN_TYPE = "at+jwt"
ALGORITHM = "HS256"
# Asymmetric algorithms an external issuer may sign with (RFC 7518 3.3-3.4); never HS*,
# which would let anyone holding the public key forge tokens.
OIDC_ALGORITHMS = ("RS256", "PS256", "ES256")
# Clock skew tolerated between this api and an external issuer.
LEEWAY = timedelta(seconds=30)
# 32 random bytes: RFC 9700 4.14 asks refresh tokens to be unguessable.
REFRESH_TOKEN_BYTES = 32
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat")


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalIdentity:
    """A caller identified by one of our own access tokens."""

    user_id: int
    organization_id: int
    role: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalIdentity:
    """A caller identified by an external issuer's token."""

    issuer: str
    subject: str


Identity = LocalIdentity | ExternalIdentity


def issue_access_token(
    principal: Principal, *, secret: str, issuer: str, now: datetime, ttl: timedelta
) -> str:
    """A signed access token for ``principal``, valid for ``ttl`` from ``now``."""
    claims = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": str(principal.user_id),
        "org": principal.organization_id,
        "role": principal.role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"typ": ACCESS_TOKEN_TYPE})


def new_refresh_token() -> tuple[str, bytes]:
    """A fresh refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenVerifier:
    """Checks bearer tokens: ours (HS256) and, when configured, an OIDC issuer's."""

    def __init__(self, *, secret: str, issuer: str, oidc: OidcSettings | None = None) -> None:
        self._secret = secret
        self._issuer = issuer
        self._oidc = oidc
        self._jwks = None if oidc is None else jwt.PyJWKClient(oidc.jwks_url, cache_keys=True)

    async def identify(self, token: str) -> Identity:
        """Who ``token`` says the caller is; any flaw is an ``AuthenticationError``."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationError("malformed token") from exc
        issuer = unverified.get("iss")
        if issuer == self._issuer:
            return self._local(token)
        if self._oidc is not None and issuer == self._oidc.issuer:
            return await self._external(token, self._oidc)
        raise AuthenticationError("token from an unknown issuer")

    def _local(self, token: str) -> LocalIdentity:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != ACCESS_TOKEN_TYPE:
                raise AuthenticationError("not an access token")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self._issuer,
                options={"require": [*_REQUIRED_CLAIMS, "org", "role"]},
            )
            return LocalIdentity(
                user_id=int(claims["sub"]),
                organization_id=int(claims["org"]),
                role=Role(claims["role"]),
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AuthenticationError("invalid token") from exc

    async def _external(self, token: str, oidc: OidcSettings) -> ExternalIdentity:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches over blocking urllib (cached afterwards): off the loop.
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(OIDC_ALGORITHMS),
                audience=oidc.audience,
                issuer=oidc.issuer,
                leeway=LEEWAY,
                options={"require": list(_REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("invalid token") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("invalid token subject")
        return ExternalIdentity(issuer=oidc.issuer, subject=subject)
