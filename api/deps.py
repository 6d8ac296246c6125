"""FastAPI dependencies: the request's connection, caller and auditor.

``CallerDep`` authenticates every protected endpoint: a bearer token (ours or the OIDC
issuer's), then the user loaded fresh from the database, so disabling a user or
changing a role takes effect at the next request. A failed authentication on a path
that names a patient is audited as a denied attempt by nobody.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.audit import Action, Auditor
from api.db import Connection, pooled
from api.errors import AuthenticationError, ForbiddenError
from api.principal import Principal, Role
from api.queries.alerts import alert_subject
from api.queries.users import load_external_principal, load_principal
from api.settings import ApiSettings
from api.token import ExternalIdentity, LocalIdentity, TokenVerifier

TOKEN_URL = "/auth/token"
REQUEST_ID_HEADER = "X-Request-ID"
# Path parameter naming the patient a request concerns (audited even when refused).
PATIENT_PARAMETER = "patient_id"
ALERT_PARAMETER = "alert_id"
# bigint holds 19 digits; longer numbers name nothing.
MAX_ID_DIGITS = 19

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

# HTTP method -> the audit action of a refused request.
_METHOD_ACTION = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "POST": Action.CREATE,
    "PUT": Action.UPDATE,
    "DELETE": Action.UPDATE,
}


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    async with pooled(request.app.state.pool) as conn:
        yield conn


ConnectionDep = Annotated[Connection, Depends(get_connection)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


def client_address(request: Request) -> str | None:
    """The peer's IP address, or None when the transport gives none (tests, sockets)."""
    if request.client is None:
        return None
    try:
        return str(ipaddress.ip_address(request.client.host))
    except ValueError:
        return None


def request_id(request: Request) -> str:
    found: str | None = getattr(request.state, "request_id", None)
    return found or uuid.uuid4().hex


async def authenticate(request: Request, conn: Connection, token: str | None) -> Principal:
    """The enabled user ``token`` belongs to, or ``AuthenticationError``."""
    if not token:
        raise AuthenticationError("no bearer token")
    verifier: TokenVerifier = request.app.state.verifier
    identity = await verifier.identify(token)
    principal: Principal | None
    if isinstance(identity, LocalIdentity):
        principal = await load_principal(conn, identity.user_id)
        # A token minted for another role or organization is stale: sign in again.
        if principal is not None and (
            principal.role is not identity.role
            or principal.organization_id != identity.organization_id
        ):
            principal = None
    else:
        assert isinstance(identity, ExternalIdentity)
        principal = await load_external_principal(conn, identity.issuer, identity.subject)
    if principal is None:
        raise AuthenticationError("unknown or disabled account")
    return principal


async def bearer_token(token: Annotated[str | None, Depends(_bearer)]) -> str | None:
    """The bearer token of the request, if any (for endpoints that authenticate themselves)."""
    return token


async def get_caller(
    request: Request, conn: ConnectionDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    try:
        return await authenticate(request, conn, token)
    except AuthenticationError:
        await audit_refusal(request, conn, None)
        raise


async def audit_refusal(request: Request, conn: Connection, caller: Principal | None) -> None:
    """Record a refused request whose path names a patient (directly or by an alert)."""
    patient = await _named_patient(conn, request.path_params)
    if patient is None:
        return
    auditor = Auditor(
        conn=conn,
        principal=caller,
        client_address=client_address(request),
        request_id=request_id(request),
    )
    route = request.scope.get("route")
    await auditor.denied(
        patient,
        action=_METHOD_ACTION.get(request.method, Action.UPDATE),
        resource=getattr(route, "path", request.url.path).lstrip("/"),
    )


async def _named_patient(conn: Connection, path: dict[str, Any]) -> int | None:
    """The patient a request's path names, directly or through an alert."""
    for name in (PATIENT_PARAMETER, ALERT_PARAMETER):
        text = str(path.get(name, ""))
        if text.isdigit() and len(text) < MAX_ID_DIGITS:
            if name == PATIENT_PARAMETER:
                return int(text)
            subject = await alert_subject(conn, int(text))
            return None if subject is None else subject[1]
    return None


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_auditor(request: Request, conn: ConnectionDep, caller: CallerDep) -> Auditor:
    return Auditor(
        conn=conn,
        principal=caller,
        client_address=client_address(request),
        request_id=request_id(request),
    )


AuditorDep = Annotated[Auditor, Depends(get_auditor)]


def roles(*allowed: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency granting a function to ``allowed`` roles only (deny by default)."""
    granted = frozenset(allowed)

    async def check(request: Request, conn: ConnectionDep, caller: CallerDep) -> Principal:
        if caller.role not in granted:
            await audit_refusal(request, conn, caller)
            raise ForbiddenError(f"a {caller.role.value} may not use this function")
        return caller

    return check
