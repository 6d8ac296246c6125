"""ASGI middleware: request ids, response headers for health data, request size limit.

Pure ASGI (no BaseHTTPMiddleware), so streamed answers (CSV, SSE, NDJSON) pass through
untouched.
"""

from __future__ import annotations

import json
import re
import uuid
from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import REQUEST_ID_HEADER

# OWASP API4: bound what one request may make the server read. The largest legitimate
# body is a gateway config (64 devices) or a user, both far below this.
MAX_BODY_BYTES = 1 << 20
# A caller's request id is echoed if it is short and plain; otherwise we make one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Health data must not linger in shared caches or browser history (OWASP REST Security
# Cheat Sheet, "Security headers").
_HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


class ApiMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            await _too_large(send, request_id)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    # Ends the body early; the endpoint sees a truncated, invalid request.
                    return {"type": "http.disconnect"}
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _HEADERS if n not in present]
                extra.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


async def _too_large(send: Send, request_id: str) -> None:
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    body = json.dumps(
        {
            "type": "about:blank",
            "title": status.phrase,
            "status": status.value,
            "code": "too_large",
            "detail": f"request bodies are limited to {MAX_BODY_BYTES} bytes",
            "errors": [],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status.value,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
