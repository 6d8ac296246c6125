"""The web session: a cookie carrying the access token, CSRF tokens, sign-in redirects.

Sign-in sets two cookies, both ``Secure; HttpOnly; SameSite=Strict`` and limited to
the pages' path: the access token (read on every page exactly like a bearer token) and
the refresh token (renewing an expired access token without a new sign-in, and
revoking the session on sign-out). SameSite=Strict keeps other
sites' forms from carrying them; each form also carries a token derived from the access
token with the api secret (HMAC-SHA256), checked on every POST (OWASP CSRF Prevention
Cheat Sheet: defence in depth, "signed double-submit" variant). A page without a valid
session answers a redirect to the sign-in form.

When the access token has expired, the refresh token is swapped for a new pair (the
api's rotation: the old refresh token is spent), and the response of that request must
carry the new cookies: ``WebSession.renewed`` says so, and ``finish`` sets them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote

from fastapi import HTTPException, Request, Response

from api.db import Connection
from api.deps import authenticate
from api.errors import AuthenticationError, ForbiddenError
from api.principal import Principal
from api.session import TokenPair, refresh
from api.settings import ApiSettings
from api.web.text import Language, language_of
from devices.reading import utc_now

PREFIX = "/web"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
ACCESS_COOKIE = "telecare_access"
REFRESH_COOKIE = "telecare_refresh"
LANGUAGE_COOKIE = "telecare_language"
CSRF_FIELD = "csrf"
# The language choice outlives sessions: a year, as sites commonly keep preferences.
LANGUAGE_MAX_AGE_S = 365 * 24 * 3600
_CSRF_CONTEXT = b"telecare web csrf v1\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSession:
    """A signed-in page request: who, their CSRF token, their language."""

    principal: Principal
    csrf: str
    language: Language
    # Tokens issued by this request (the access token had expired): set them as cookies.
    renewed: TokenPair | None = None
    # Seconds the cookies live: as long as the refresh token (settings.refresh_ttl).
    max_age: int = 0


def csrf_token(secret: str, access_token: str) -> str:
    """The form token of the session holding ``access_token``."""
    return hmac.new(
        secret.encode(), _CSRF_CONTEXT + access_token.encode(), hashlib.sha256
    ).hexdigest()


def language(request: Request) -> Language:
    return language_of(request.cookies.get(LANGUAGE_COOKIE))


def sign_in_redirect(request: Request) -> HTTPException:
    """A 303 to the sign-in form that comes back to this page afterwards."""
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    return HTTPException(
        HTTPStatus.SEE_OTHER,
        headers={"Location": f"{SIGN_IN_PATH}?next={quote(target, safe='/')}"},
    )


async def session(request: Request, conn: Connection, *, renew: bool = True) -> WebSession:
    """The signed-in user of a page request; raises a redirect to sign in otherwise.

    With ``renew``, an expired access token is renewed with the refresh cookie; the
    caller must then ``finish`` its response.
    """
    settings: ApiSettings = request.app.state.settings
    token = request.cookies.get(ACCESS_COOKIE)
    renewed = None
    try:
        principal = await authenticate(request, conn, token)
    except AuthenticationError:
        refresh_token = request.cookies.get(REFRESH_COOKIE)
        if not (renew and refresh_token):
            raise sign_in_redirect(request) from None
        try:
            renewed = await refresh(
                conn, refresh_token=refresh_token, settings=settings, now=utc_now()
            )
        except AuthenticationError:
            raise sign_in_redirect(request) from None
        token = renewed.access_token
        principal = renewed.principal
    assert token is not None
    return WebSession(
        principal=principal,
        csrf=csrf_token(settings.secret, token),
        language=language(request),
        renewed=renewed,
        max_age=int(settings.refresh_ttl.total_seconds()),
    )


def finish(response: Response, web: WebSession | None) -> Response:
    """Set the renewed session cookies on ``response``, if this request renewed them."""
    if web is not None and web.renewed is not None:
        set_session(
            response,
            access_token=web.renewed.access_token,
            refresh_token=web.renewed.refresh_token,
            max_age=web.max_age,
        )
    return response


def check_csrf(web: WebSession, given: str) -> None:
    """Refuse a form whose token is not the session's."""
    if not hmac.compare_digest(web.csrf.encode(), given.encode()):
        raise ForbiddenError("the form's CSRF token does not match the session")


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a form: only a path of these pages (no open redirect)."""
    if target and target.startswith(f"{PREFIX}/") and "\\" not in target and "//" not in target:
        return target
    return default


def set_session(response: Response, *, access_token: str, refresh_token: str, max_age: int) -> None:
    for name, value in ((ACCESS_COOKIE, access_token), (REFRESH_COOKIE, refresh_token)):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=True,
            httponly=True,
            samesite="strict",
        )


def clear_session(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=PREFIX, secure=True, httponly=True, samesite="strict")


def set_language(response: Response, chosen: Language) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen.value,
        max_age=LANGUAGE_MAX_AGE_S,
        path=PREFIX,
        secure=True,
        httponly=True,
        samesite="strict",
    )
