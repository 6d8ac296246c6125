"""Signing in: the OAuth2 password grant, refresh-token rotation and signing out.

``login`` checks the password (rate limited per user name and address), then issues a
short-lived access token and a refresh token. ``refresh`` swaps a refresh token for a
new pair, marking the old one used; a used or revoked token presented again revokes
its whole family (RFC 9700 section 4.14.2, refresh token rotation), since either the
owner or a thief is replaying it. ``logout`` revokes the family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from api.db import Connection
from api.errors import AuthenticationError
from api.password import hash_password, needs_rehash, verify_password
from api.principal import Principal
from api.queries.users import load_login, load_principal, update_password_hash
from api.ratelimit import LoginLimiter
from api.settings import ApiSettings
from api.token import issue_access_token, new_refresh_token, refresh_token_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    """What the token endpoint returns (RFC 6749 section 5.1)."""

    access_token: str
    refresh_token: str
    expires_in: int
    principal: Principal


async def login(
    conn: Connection,
    *,
    username: str,
    password: str,
    address: str | None,
    limiter: LoginLimiter,
    settings: ApiSettings,
    now: datetime,
) -> TokenPair:
    """Tokens for ``username`` if ``password`` is right; ``AuthenticationError`` if not."""
    limiter.check(username=username, address=address)
    found = await load_login(conn, username)
    # Verify even for unknown names (against a dummy hash): same time either way.
    matches = verify_password(None if found is None else found.password_hash, password)
    if found is None or not matches:
        limiter.failed(username=username, address=address)
        raise AuthenticationError("wrong user name or password")
    limiter.succeeded(username=username)
    if found.password_hash is not None and needs_rehash(found.password_hash):
        await update_password_hash(conn, found.principal.user_id, hash_password(password))
    return await _issue(conn, found.principal, family=uuid.uuid4(), settings=settings, now=now)


async def refresh(
    conn: Connection, *, refresh_token: str, settings: ApiSettings, now: datetime
) -> TokenPair:
    """A new pair for a valid, unused refresh token; the old one is spent."""
    async with conn.transaction():
        cur = await conn.execute(
            """SELECT id, family, user_id, expires_at, used_at, revoked_at
            FROM refresh_tokens WHERE token_hash = %s FOR UPDATE""",
            (refresh_token_hash(refresh_token),),
        )
        row = await cur.fetchone()
        if row is None:
            raise AuthenticationError("unknown refresh token")
        if row["used_at"] is None and row["revoked_at"] is None and row["expires_at"] > now:
            await conn.execute(
                "UPDATE refresh_tokens SET used_at = %s WHERE id = %s", (now, row["id"])
            )
            principal = await load_principal(conn, row["user_id"])
            if principal is None:
                raise AuthenticationError("account disabled")
            return await _issue(conn, principal, family=row["family"], settings=settings, now=now)
        replayed = row["used_at"] is not None or row["revoked_at"] is not None
        if replayed:
            await _revoke_family(conn, row["family"])
    # Raised after the transaction committed, so a replay's revocation sticks.
    if replayed:
        raise AuthenticationError("refresh token already used; signed out everywhere")
    raise AuthenticationError("refresh token expired")


async def logout(conn: Connection, *, refresh_token: str) -> None:
    """Revoke the family of ``refresh_token`` (unknown tokens are ignored)."""
    cur = await conn.execute(
        "SELECT family FROM refresh_tokens WHERE token_hash = %s",
        (refresh_token_hash(refresh_token),),
    )
    row = await cur.fetchone()
    if row is not None:
        await _revoke_family(conn, row["family"])


async def _revoke_family(conn: Connection, family: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family = %s AND revoked_at IS NULL",
        (family,),
    )


async def _issue(
    conn: Connection,
    principal: Principal,
    *,
    family: uuid.UUID,
    settings: ApiSettings,
    now: datetime,
) -> TokenPair:
    token, token_hash = new_refresh_token()
    await conn.execute(
        """INSERT INTO refresh_tokens (token_hash, family, user_id, issued_at, expires_at)
        VALUES (%s, %s, %s, %s, %s)""",
        (token_hash, family, principal.user_id, now, now + settings.refresh_ttl),
    )
    access = issue_access_token(
        principal,
        secret=settings.secret,
        issuer=settings.issuer,
        now=now,
        ttl=settings.access_ttl,
    )
    return TokenPair(
        access_token=access,
        refresh_token=token,
        expires_in=int(settings.access_ttl.total_seconds()),
        principal=principal,
    )
