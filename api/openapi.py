"""The OpenAPI document, with every error answer described as the problem shape.

FastAPI describes error responses as ``application/json`` and request validation
failures as its own ``HTTPValidationError``; this api answers every error with an
RFC 9457 ``application/problem+json`` ``Problem`` (``api.problem``). The document is
rewritten to say so, so clients and schemathesis check errors against what is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from api.problem import MEDIA_TYPE, FieldError, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Errors any authenticated endpoint can answer besides the ones it declares.
_COMMON_ERRORS = {
    "400": "Bad Request",
    "401": "Unauthorized",
    "413": "Content Too Large",
    "422": "Unprocessable Entity",
    "500": "Internal Server Error",
    "503": "Service Unavailable",
}


def _problem_schemas() -> dict[str, Any]:
    _, schema = models_json_schema(
        [(Problem, "serialization"), (FieldError, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Any] = schema.get("$defs", {})
    return defs


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with a generator that describes errors as problems."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(_problem_schemas())
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                answers = operation.setdefault("responses", {})
                for status, description in _COMMON_ERRORS.items():
                    answers.setdefault(status, {"description": description})
                for status, answer in answers.items():
                    if status.isdigit() and int(status) >= 400:
                        answer["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
