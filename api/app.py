"""``create_app(settings)``: the FastAPI application, its lifespan and its routers.

The lifespan opens the database pool (psycopg_pool.AsyncConnectionPool, as the psycopg
docs advise for ASGI apps: created closed, opened here) and the alert broadcaster that
feeds live streams, and closes both on shutdown. Nothing exists before ``create_app``
is called, so tests build as many independent apps as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.db import POOL_TIMEOUT_S, create_pool, create_sync_pool, pooled
from api.fhir.export import ExportJobs
from api.live import AlertFeed
from api.middleware import ApiMiddleware
from api.openapi import install_openapi
from api.problem import install_error_handlers
from api.queries.readings import aggregate_source
from api.ratelimit import LoginLimiter
from api.routes import (
    alerts,
    audit,
    auth,
    fhir,
    fleet,
    health,
    live,
    patients,
    plans,
    readings,
    reviews,
    users,
)
from api.settings import ApiSettings
from api.token import TokenVerifier
from api.web.router import router as web_router

TITLE = "telecare api"
# Blocking connections for ingest's write functions (alert lifecycle, monitoring plans):
# writes are rare next to reads, and each holds its connection only for one transaction.
SYNC_POOL_SIZE = 2
VERSION = "1"

ROUTERS = (
    health.router,
    auth.router,
    patients.router,
    reviews.router,
    live.router,
    readings.router,
    alerts.router,
    plans.router,
    fleet.router,
    audit.router,
    users.router,
    fhir.router,
    web_router,
)


def create_app(settings: ApiSettings) -> FastAPI:
    """A new application serving ``settings``' database."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings.database_url, max_size=settings.pool_size)
        await pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        sync_pool = create_sync_pool(settings.database_url, max_size=SYNC_POOL_SIZE)
        try:
            await asyncio.to_thread(sync_pool.open, wait=True, timeout=POOL_TIMEOUT_S)
            app.state.pool = pool
            app.state.sync_pool = sync_pool
            async with pooled(pool) as conn:
                app.state.aggregate = await aggregate_source(conn)
            app.state.exports = ExportJobs()
            feed = AlertFeed(settings.database_url)
            app.state.alert_feed = feed
            following = asyncio.create_task(feed.run(), name="alert-feed")
            try:
                yield
            finally:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
                await app.state.exports.close()
        finally:
            await asyncio.to_thread(sync_pool.close)
            await pool.close()

    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description="Clinician and fleet api of telecare: triage, readings, alerts, "
        "thresholds, device fleet, audit, and FHIR R4 under /fhir.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = TokenVerifier(
        secret=settings.secret, issuer=settings.issuer, oidc=settings.oidc
    )
    app.state.limiter = LoginLimiter(
        attempts=settings.login_attempts, window=settings.login_window.total_seconds()
    )
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(ApiMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    return app
