"""Sign in, sign out, the language choice, the home redirect and the static files.

Signing in goes through the api's own token endpoint function: the same password
check, the same rate limiting per user name and address, the same audit record.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import ConnectionDep, SettingsDep
from api.errors import AuthenticationError, NotFoundError, RateLimitedError
from api.principal import CARE_ROLES, Role
from api.routes.auth import MAX_FIELD
from api.routes.auth import token as token_endpoint
from api.session import logout
from api.web import cookie
from api.web.cookie import PREFIX, SIGN_IN_PATH
from api.web.render import STATIC, page
from api.web.text import Language

router = APIRouter(include_in_schema=False)

WORKLIST_PATH = f"{PREFIX}/worklist"
FLEET_PATH = f"{PREFIX}/fleet"
OWN_PATH = f"{PREFIX}/me"
AUDIT_PATH = f"{PREFIX}/audit"
# Role -> the page a user lands on after signing in.
HOME = {
    **dict.fromkeys(CARE_ROLES, WORKLIST_PATH),
    Role.FLEET_MANAGER: FLEET_PATH,
    Role.PATIENT: OWN_PATH,
    Role.AUDITOR: AUDIT_PATH,
}
STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}


def see_other(location: str, web: cookie.WebSession | None = None) -> Response:
    """A 303 to ``location``, carrying renewed session cookies if ``web`` has them."""
    return cookie.finish(RedirectResponse(location, status_code=HTTPStatus.SEE_OTHER), web)


@router.get(SIGN_IN_PATH)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return page(request, "sign_in.html", web=None, next=next or "", error=None)


@router.post(SIGN_IN_PATH)
async def sign_in(
    request: Request,
    conn: ConnectionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=MAX_FIELD)],
    password: Annotated[str, Form(max_length=MAX_FIELD)],
    next: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    """Check the password as ``/auth/token`` does; set the session cookies."""
    try:
        pair = await token_endpoint(
            request,
            conn,
            settings,
            grant_type="password",
            username=username,
            password=password,
        )
    except (AuthenticationError, RateLimitedError) as exc:
        limited = isinstance(exc, RateLimitedError)
        return page(
            request,
            "sign_in.html",
            web=None,
            status=HTTPStatus.TOO_MANY_REQUESTS if limited else HTTPStatus.UNAUTHORIZED,
            next=next,
            error="too_many" if limited else "wrong_login",
        )
    assert pair.refresh_token is not None
    response = see_other(cookie.safe_next(next, f"{PREFIX}/"))
    cookie.set_session(
        response,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        # The cookies live as long as the refresh token; the access token inside is
        # checked, and renewed, on every request.
        max_age=int(settings.refresh_ttl.total_seconds()),
    )
    return response


@router.post(f"{PREFIX}/sign-out")
async def sign_out(
    request: Request, conn: ConnectionDep, csrf: Annotated[str, Form(max_length=MAX_FIELD)]
) -> Response:
    web = await cookie.session(request, conn, renew=False)
    cookie.check_csrf(web, csrf)
    refresh = request.cookies.get(cookie.REFRESH_COOKIE)
    if refresh:
        await logout(conn, refresh_token=refresh)
    response = see_other(SIGN_IN_PATH)
    cookie.clear_session(response)
    return response


@router.get(f"{PREFIX}/language/{{chosen}}")
async def choose_language(chosen: Language, next: str | None = None) -> Response:
    """Remember the language (a cookie) and go back to the page it was chosen on."""
    response = see_other(cookie.safe_next(next, f"{PREFIX}/"))
    cookie.set_language(response, chosen)
    return response


@router.get(PREFIX)
@router.get(f"{PREFIX}/")
async def home(request: Request, conn: ConnectionDep) -> Response:
    web = await cookie.session(request, conn)
    target = HOME.get(web.principal.role)
    if target is None:
        return page(request, "error.html", web=web, status=HTTPStatus.FORBIDDEN, error="forbidden")
    return see_other(target, web)


@router.get(f"{PREFIX}/static/{{name}}")
async def static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFoundError("no such file")
    return FileResponse(STATIC / name, media_type=media_type)
