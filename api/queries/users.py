"""Users and organizations: create, list, disable, set passwords, load principals.

Used by the api's admin routes and by ``telecare users``. Passwords arrive in clear
and leave this module only as Argon2 hashes. Users are disabled, never deleted: the
audit log and alert history refer to them. Disabling also revokes their refresh tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from api.db import Connection, Row
from api.errors import InvalidError, NotFoundError
from api.password import hash_password
from api.principal import Principal, Role


class OrganizationKind(StrEnum):
    """The values of ``organizations.kind`` (migration 0001)."""

    REGION = "region"
    MUNICIPALITY = "municipality"
    PRACTICE = "practice"


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    id: int
    kind: OrganizationKind
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user as administrators see it (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    organization_id: int
    patient_id: int | None
    disabled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginRow:
    """What a login needs: the principal-to-be and the stored hash."""

    principal: Principal
    password_hash: str | None


_REVOKE_TOKENS = (
    "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
)
_USER_COLUMNS = (
    "u.id, u.username, u.display_name, u.role, u.organization_id, u.patient_id, "
    "u.disabled_at, u.created_at"
)


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        organization_id=row["organization_id"],
        patient_id=row["patient_id"],
        disabled_at=row["disabled_at"],
        created_at=row["created_at"],
    )


def _principal(row: Row) -> Principal:
    return Principal(
        user_id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        organization_id=row["organization_id"],
        patient_id=row["patient_id"],
    )


async def create_organization(conn: Connection, *, kind: OrganizationKind, name: str) -> int:
    cur = await conn.execute(
        "INSERT INTO organizations (kind, name) VALUES (%s, %s) RETURNING id", (kind, name)
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


async def list_organizations(conn: Connection) -> list[Organization]:
    cur = await conn.execute("SELECT id, kind, name FROM organizations ORDER BY id")
    return [
        Organization(id=r["id"], kind=OrganizationKind(r["kind"]), name=r["name"])
        for r in await cur.fetchall()
    ]


async def find_organization(conn: Connection, name_or_id: str) -> int:
    """The id of the organization named (or numbered) ``name_or_id``."""
    cur = await conn.execute(
        "SELECT id FROM organizations WHERE name = %s OR id::text = %s ORDER BY id LIMIT 1",
        (name_or_id, name_or_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no organization {name_or_id!r}")
    return int(row["id"])


async def create_user(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    role: Role,
    organization_id: int,
    password: str | None = None,
    patient_id: int | None = None,
    external: tuple[str, str] | None = None,
) -> User:
    """A new user; a patient account needs ``patient_id`` of the same organization."""
    if password is None and external is None:
        raise InvalidError("a user needs a password or an external identity")
    if (role is Role.PATIENT) != (patient_id is not None):
        raise InvalidError("a patient account, and only it, names its patient")
    password_hash = None if password is None else hash_password(password)
    issuer, subject = external if external is not None else (None, None)
    cur = await conn.execute(
        f"""
        INSERT INTO users AS u (organization_id, username, display_name, role, password_hash,
                                patient_id, external_issuer, external_subject)
        SELECT %(org)s, %(username)s, %(display_name)s, %(role)s, %(hash)s, %(patient)s,
               %(issuer)s, %(subject)s
        WHERE %(patient)s::bigint IS NULL OR EXISTS (
            SELECT FROM patients p WHERE p.id = %(patient)s AND p.organization_id = %(org)s)
        RETURNING {_USER_COLUMNS}
        """,
        {
            "org": organization_id,
            "username": username,
            "display_name": display_name,
            "role": role,
            "hash": password_hash,
            "patient": patient_id,
            "issuer": issuer,
            "subject": subject,
        },
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no patient {patient_id} in organization {organization_id}")
    return _user(row)


async def list_users(conn: Connection, *, organization_id: int | None = None) -> list[User]:
    """All users, or those of one organization, by user name."""
    cur = await conn.execute(
        f"""SELECT {_USER_COLUMNS} FROM users u
        WHERE %(org)s::bigint IS NULL OR u.organization_id = %(org)s ORDER BY u.username""",
        {"org": organization_id},
    )
    return [_user(row) for row in await cur.fetchall()]


async def get_user(conn: Connection, user_id: int, *, organization_id: int | None) -> User:
    cur = await conn.execute(
        f"""SELECT {_USER_COLUMNS} FROM users u
        WHERE u.id = %(id)s AND (%(org)s::bigint IS NULL OR u.organization_id = %(org)s)""",
        {"id": user_id, "org": organization_id},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("no such user")
    return _user(row)


async def user_id_by_name(conn: Connection, username: str) -> int:
    cur = await conn.execute("SELECT id FROM users WHERE username = %s", (username,))
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no user {username!r}")
    return int(row["id"])


async def disable_user(conn: Connection, user_id: int, *, organization_id: int | None) -> User:
    """Disable a user (idempotent) and revoke every refresh token they hold."""
    async with conn.transaction():
        cur = await conn.execute(
            f"""UPDATE users u SET disabled_at = coalesce(u.disabled_at, now())
            WHERE u.id = %(id)s AND (%(org)s::bigint IS NULL OR u.organization_id = %(org)s)
            RETURNING {_USER_COLUMNS}""",
            {"id": user_id, "org": organization_id},
        )
        row = await cur.fetchone()
        if row is None:
            raise NotFoundError("no such user")
        await conn.execute(_REVOKE_TOKENS, (user_id,))
    return _user(row)


async def set_password(
    conn: Connection, user_id: int, password: str, *, organization_id: int | None
) -> None:
    """Replace a user's password and sign them out everywhere."""
    password_hash = hash_password(password)
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE users u SET password_hash = %(hash)s
            WHERE u.id = %(id)s AND (%(org)s::bigint IS NULL OR u.organization_id = %(org)s)""",
            {"id": user_id, "org": organization_id, "hash": password_hash},
        )
        if cur.rowcount != 1:
            raise NotFoundError("no such user")
        await conn.execute(_REVOKE_TOKENS, (user_id,))


async def link_external_identity(
    conn: Connection, user_id: int, *, issuer: str, subject: str, organization_id: int | None
) -> None:
    """Let the user sign in with ``subject``'s tokens from the OIDC ``issuer``; their
    own password (if any) keeps working. One external identity names one user."""
    cur = await conn.execute(
        """UPDATE users u SET external_issuer = %(issuer)s, external_subject = %(subject)s
        WHERE u.id = %(id)s AND (%(org)s::bigint IS NULL OR u.organization_id = %(org)s)""",
        {"id": user_id, "org": organization_id, "issuer": issuer, "subject": subject},
    )
    if cur.rowcount != 1:
        raise NotFoundError("no such user")


async def load_principal(conn: Connection, user_id: int) -> Principal | None:
    """The enabled user ``user_id`` as a principal, or None."""
    cur = await conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = %s AND u.disabled_at IS NULL",
        (user_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _principal(row)


async def load_external_principal(conn: Connection, issuer: str, subject: str) -> Principal | None:
    """The enabled user an external identity maps to, or None."""
    cur = await conn.execute(
        f"""SELECT {_USER_COLUMNS} FROM users u WHERE u.external_issuer = %s
        AND u.external_subject = %s AND u.disabled_at IS NULL""",
        (issuer, subject),
    )
    row = await cur.fetchone()
    return None if row is None else _principal(row)


async def load_login(conn: Connection, username: str) -> LoginRow | None:
    """The enabled user signing in as ``username`` with their hash, or None."""
    cur = await conn.execute(
        f"""SELECT {_USER_COLUMNS}, u.password_hash FROM users u
        WHERE u.username = %s AND u.disabled_at IS NULL""",
        (username,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return LoginRow(principal=_principal(row), password_hash=row["password_hash"])


async def update_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
    )
