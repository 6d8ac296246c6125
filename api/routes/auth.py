"""``/auth``: sign in (OAuth2 password grant), refresh, sign out; ``/me``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from api.audit import Action, Auditor, Outcome
from api.deps import CallerDep, ConnectionDep, SettingsDep, client_address, request_id
from api.errors import AuthenticationError, InvalidError
from api.problem import responses
from api.ratelimit import LoginLimiter
from api.schemas.auth import Me, RefreshTokenBody, TokenResponse
from api.session import TokenPair, login, logout, refresh
from devices.reading import utc_now

router = APIRouter(tags=["auth"])

# The audit resource name of sign-in attempts (they name no patient).
SESSION_RESOURCE = "session"
MAX_FIELD = 256


def _response(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@router.post(
    "/auth/token",
    responses=responses(HTTPStatus.UNAUTHORIZED, HTTPStatus.TOO_MANY_REQUESTS),
)
async def token(
    request: Request,
    conn: ConnectionDep,
    settings: SettingsDep,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()],
    username: Annotated[str | None, Form(max_length=MAX_FIELD)] = None,
    password: Annotated[str | None, Form(max_length=MAX_FIELD)] = None,
    refresh_token: Annotated[str | None, Form(max_length=MAX_FIELD)] = None,
) -> TokenResponse:
    """Sign in with user name and password, or swap a refresh token for new tokens."""
    now = utc_now()
    if grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidError("refresh_token is required for this grant")
        return _response(
            await refresh(conn, refresh_token=refresh_token, settings=settings, now=now)
        )
    if not username or not password:
        raise InvalidError("username and password are required for this grant")
    limiter: LoginLimiter = request.app.state.limiter
    auditor = Auditor(
        conn=conn,
        principal=None,
        client_address=client_address(request),
        request_id=request_id(request),
    )
    try:
        pair = await login(
            conn,
            username=username,
            password=password,
            address=client_address(request),
            limiter=limiter,
            settings=settings,
            now=now,
        )
    except AuthenticationError:
        await auditor.record(
            [None],
            action=Action.LOGIN,
            resource=SESSION_RESOURCE,
            outcome=Outcome.DENIED,
            detail={"username": username[:MAX_FIELD]},
        )
        raise
    await Auditor(
        conn=conn,
        principal=pair.principal,
        client_address=auditor.client_address,
        request_id=auditor.request_id,
    ).record([None], action=Action.LOGIN, resource=SESSION_RESOURCE)
    return _response(pair)


@router.post("/auth/logout", status_code=HTTPStatus.NO_CONTENT)
async def sign_out(conn: ConnectionDep, body: RefreshTokenBody) -> Response:
    """Revoke a refresh token and every token refreshed from the same sign-in."""
    await logout(conn, refresh_token=body.refresh_token)
    return Response(status_code=HTTPStatus.NO_CONTENT)


@router.get("/me", responses=responses(HTTPStatus.UNAUTHORIZED))
async def me(caller: CallerDep) -> Me:
    """The caller's own account."""
    return Me(
        user_id=caller.user_id,
        username=caller.username,
        display_name=caller.display_name,
        role=caller.role,
        organization_id=caller.organization_id,
        patient_id=caller.patient_id,
    )
