"""The template environment and the HTML page response.

Jinja2 with autoescaping on for every template and ``StrictUndefined`` (a missing
value or text fails loudly). Pages get a Content-Security-Policy that allows only this
origin's script and stylesheet: no inline script or style, no third-party anything.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.audit import Auditor
from api.db import Connection
from api.deps import client_address, request_id
from api.errors import ApiError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from api.web.cookie import CSRF_FIELD, PREFIX, WebSession, finish, language
from api.web.text import texts

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Times are shown on the clinicians' wall clock: the platform serves Danish care.
DISPLAY_ZONE = ZoneInfo("Europe/Copenhagen")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def when(at: datetime | None) -> str:
    """A time as the pages show it: local wall clock, minutes."""
    if at is None:
        return "-"
    return at.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%d %H:%M")


def count(value: int, *, cap: int) -> str:
    """A count that stopped at ``cap``: "100+" rather than a number that is not exact."""
    return f"{cap}+" if value >= cap else str(value)


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["count"] = count
    return env


def page(
    request: Request,
    template: str,
    *,
    web: WebSession | None,
    status: HTTPStatus = HTTPStatus.OK,
    **values: Any,
) -> HTMLResponse:
    """``template`` rendered for the signed-in user (or nobody) in their language."""
    chosen = web.language if web is not None else language(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = (
        environment()
        .get_template(template)
        .render(
            t=texts(chosen),
            lang=chosen.value,
            web=web,
            me=None if web is None else web.principal,
            csrf_field=CSRF_FIELD,
            prefix=PREFIX,
            here=here,
            **values,
        )
    )
    response = HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP})
    finish(response, web)
    return response


# Domain errors a page shows as a page: status and the text key saying why.
_ERROR_PAGES: dict[type[ApiError], tuple[HTTPStatus, str]] = {
    ForbiddenError: (HTTPStatus.FORBIDDEN, "forbidden"),
    NotFoundError: (HTTPStatus.NOT_FOUND, "not_found"),
    ConflictError: (HTTPStatus.CONFLICT, "conflict"),
    InvalidError: (HTTPStatus.UNPROCESSABLE_ENTITY, "conflict"),
}


def error_page(request: Request, web: WebSession | None, error: ApiError) -> HTMLResponse:
    """The page for a refused or impossible request (the api answers these as problems)."""
    for cls in type(error).__mro__:
        if cls in _ERROR_PAGES:
            status, key = _ERROR_PAGES[cls]
            return page(request, "error.html", web=web, status=status, error=key)
    raise error


def auditor_for(request: Request, conn: Connection, web: WebSession) -> Auditor:
    """The page request's auditor, as ``api.deps`` builds it for api requests."""
    return Auditor(
        conn=conn,
        principal=web.principal,
        client_address=client_address(request),
        request_id=request_id(request),
    )
