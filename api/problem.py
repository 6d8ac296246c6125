"""The one place that turns errors into HTTP responses, all with one JSON shape.

Every error answer is an RFC 9457 problem document (``application/problem+json``):

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "code": "not_found", "detail": "no such patient", "errors": []}

``code`` is stable and meant for programs; ``detail`` is for people; ``errors`` lists
the offending fields of a rejected request (``loc`` as FastAPI gives it). The api's own
errors, FastAPI's request validation, Starlette's HTTP exceptions (unknown path, wrong
method) and anything unexpected all leave through here, so no error ever has another
shape and no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from api.db import DriverError, translate
from api.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# Domain error -> (status, code). The only mapping of errors to HTTP in the api.
ERROR_STATUS: Mapping[type[ApiError], tuple[HTTPStatus, str]] = MappingProxyType(
    {
        AuthenticationError: (HTTPStatus.UNAUTHORIZED, "unauthenticated"),
        ForbiddenError: (HTTPStatus.FORBIDDEN, "forbidden"),
        NotFoundError: (HTTPStatus.NOT_FOUND, "not_found"),
        ConflictError: (HTTPStatus.CONFLICT, "conflict"),
        InvalidError: (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid"),
        RateLimitedError: (HTTPStatus.TOO_MANY_REQUESTS, "rate_limited"),
        UnavailableError: (HTTPStatus.SERVICE_UNAVAILABLE, "unavailable"),
    }
)

# Codes for HTTP errors raised by Starlette itself (routing, methods, body size).
_HTTP_CODES: Mapping[int, str] = MappingProxyType(
    {
        HTTPStatus.BAD_REQUEST: "bad_request",
        HTTPStatus.UNAUTHORIZED: "unauthenticated",
        HTTPStatus.FORBIDDEN: "forbidden",
        HTTPStatus.NOT_FOUND: "not_found",
        HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
        HTTPStatus.NOT_ACCEPTABLE: "not_acceptable",
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too_large",
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
        HTTPStatus.UNPROCESSABLE_ENTITY: "invalid",
    }
)


class FieldError(BaseModel):
    """One rejected request field."""

    model_config = ConfigDict(frozen=True)

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable ``code``."""

    model_config = ConfigDict(frozen=True)

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: list[FieldError] = []


def problem_response(
    status: HTTPStatus,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=status.phrase, status=status.value, code=code, detail=detail, errors=errors or []
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.value,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def status_of(error: ApiError) -> tuple[HTTPStatus, str]:
    """The status and code of ``error``, found by its class or the nearest base class."""
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR, "internal"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    status, code = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(status, code, exc.detail, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            loc=[part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            msg=str(error.get("msg", "")),
            type=str(error.get("type", "")),
        )
        for error in exc.errors()
    ]
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_request",
        "the request does not match the api's schema",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = HTTPStatus(exc.status_code)
    headers: dict[str, str] = dict(exc.headers or {})
    code = _HTTP_CODES.get(status, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else status.description
    return problem_response(status, code, detail, headers=headers)


async def _driver_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DriverError)
    translated = translate(exc)
    if translated is None:
        return await _unexpected(request, exc)
    return await _api_error(request, translated)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "an unexpected error occurred"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the problem shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DriverError, _driver_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: HTTPStatus) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses an endpoint may answer."""
    return {status.value: {"description": status.phrase} for status in statuses}
